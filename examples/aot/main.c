/* Lets a chain of springs, held at both ends, sag under gravity onto a floor:
   gradient descent on its energy, with the gradient from the library adjoin built
   from chain.py. Build and run it with: python examples/aot/build.py */
#include <stdio.h>

#include "chain_energy.h"

#define N 16

int main(void) {
    double pos[N][2];
    for (int i = 0; i < N; i++) {          /* a straight line at height 1 */
        pos[i][0] = 0.4 * i;
        pos[i][1] = 1.0;
    }
    int64_t shape[2] = {N, 2}, strides[2] = {2 * sizeof(double), sizeof(double)};
    adjoin_ctx *ctx = adjoin_ctx_new();
    double energy = 0.0;
    for (int step = 0; step < 2000; step++) {
        adjoin_array grad;
        int rc = adjoin_chain_energy_grad(ctx, &pos[0][0], shape, strides, 10.0, 1.0,
                                          1.0, &energy, &grad);
        if (rc != 0) {
            fprintf(stderr, "adjoin error %d\n", rc);
            return 1;
        }
        const double *g = grad.data;       /* row-major (N, 2), strides in bytes */
        for (int i = 1; i < N - 1; i++)    /* the ends stay where they are */
            for (int j = 0; j < 2; j++)
                pos[i][j] -= 0.01 * g[i * grad.strides[0] / 8 + j * grad.strides[1] / 8];
        adjoin_ctx_reset(ctx);             /* the gradient's memory goes back to ctx */
        if (step % 500 == 0)
            printf("C: step %3d  energy %.6f\n", step, energy);
    }
    adjoin_chain_energy(ctx, &pos[0][0], shape, strides, 10.0, 1.0, &energy);
    double low = pos[0][1];
    for (int i = 1; i < N; i++)
        low = pos[i][1] < low ? pos[i][1] : low;
    printf("C: final energy %.10f, lowest point %.6f\n", energy, low);
    adjoin_ctx_free(ctx);
    return 0;
}
