"""Functions adjoin must reject, for tests/test_errors.py.

Each offending line ends in a marker comment `# E:<name>`; the tests look the
marker up to learn the line the error must point at, so that moving code here
never breaks a test. The functions are valid Python and most run in CPython.
"""
import math
import random
import types

import numpy as np

GLOBAL_ARRAY = np.ones(3)
GLOBAL_TOTAL = 0.0
HUGE = 2 ** 70
# An object shaped like a scientific library: a namespace holding a NumPy ufunc
# adjoin has no rule for.
SCIPY_LIKE = types.SimpleNamespace(special=types.SimpleNamespace(logaddexp=np.logaddexp))


class Holder:
    value = 2.0

    def scale(self, x):
        return x * self.value


HOLDER = Holder()


def uses_try(x):
    try:  # E:uses_try
        y = x * 2.0
    except ValueError:
        y = 0.0
    return y


def uses_with(x):
    with open("/dev/null"):  # E:uses_with
        y = x + 1.0
    return y


def uses_yield(x):
    yield x * 2.0  # E:uses_yield


def uses_class(x):
    class Local:  # E:uses_class
        pass
    return x


def uses_global(x):
    global GLOBAL_TOTAL  # E:uses_global
    GLOBAL_TOTAL = x
    return x


def uses_nonlocal(x):
    y = x

    def inner():
        nonlocal y  # E:uses_nonlocal
        y = y + 1.0
    inner()
    return y


def star_args(x, *rest):  # E:star_args
    return x


def star_kwargs(x, **options):  # E:star_kwargs
    return x


def keyword_only(x, *, scale=1.0):  # E:keyword_only
    return x * scale


def dict_comp(x):
    d = {i: x for i in range(3)}  # E:dict_comp
    return x


def set_comp(x):
    s = {x * i for i in range(3)}  # E:set_comp
    return x


def dict_literal(x):
    d = {x: 1.0}  # E:dict_literal
    return x


def set_literal(x):
    s = {x, 2.0}  # E:set_literal
    return x


def f_string(x):
    s = f"{x}"  # E:f_string
    return x


def plain_string(x):
    s = "hello"  # E:plain_string
    return x


def bytes_string(x):
    s = b"abc"  # E:bytes_string
    return x


def lambda_default(x):
    g = lambda t, k=x: t * k  # E:lambda_default
    return g(x)


def lambda_star(x):
    g = lambda *t: t  # E:lambda_star
    return x


def calls_input(x):
    input(x)  # E:calls_input
    return x


def calls_random(x):
    return x * random.random()  # E:calls_random


def calls_bound_method(x):
    return HOLDER.scale(x)  # E:calls_bound_method


def calls_np_random(x):
    return x + np.random.rand()  # E:calls_np_random


def calls_scipy_like(x):
    return SCIPY_LIKE.special.logaddexp(x, x)  # E:calls_scipy_like


def calls_value(x):
    y = x * 2.0
    return y(1.0)  # E:calls_value


def unknown_name(x):
    return x + not_defined_anywhere  # E:unknown_name


def unknown_module_attribute(x):
    return math.no_such_function(x)  # E:unknown_module_attribute


def unknown_array_method(a):
    return a.tobytes()  # E:unknown_array_method


def unknown_array_attribute(a):
    return a.flags  # E:unknown_array_attribute


def scalar_method(x):
    return x.conjugate()  # E:scalar_method


def scalar_attribute(x):
    return x.imag  # E:scalar_attribute


def index_float(x):
    return x[0]  # E:index_float


def float_index(a, x):
    return a[x]  # E:float_index


def fancy_index(a, idx):
    return a[idx]  # E:fancy_index


def too_many_indices(a):
    return a[0, 1]  # E:too_many_indices


def store_too_many_indices(a):
    a[0, 1] = 2.0  # E:store_too_many_indices
    return a[0]


def used_before_assignment(x):
    y = z + x  # E:used_before_assignment
    z = 1.0
    return y


def one_branch_only(x):
    if x > 0.0:
        y = x * 2.0
    return y  # E:one_branch_only


def loop_only(x, n):
    for i in range(n):
        t = x * i
    return t  # E:loop_only


def type_changes(x, a):
    if x > 0.0:  # E:type_changes
        y = x
    else:
        y = a
    return y


def returns_differ(x, a):
    if x > 0.0:  # E:returns_differ
        return x
    return a


def recursion_without_base(x):  # E:recursion_without_base
    return recursion_without_base(x - 1.0) * 2.0


def range_float(x):
    s = 0.0
    for i in range(x):  # E:range_float
        s = s + i
    return s


def unpack_too_many(x):
    a, b, c = (x, x)  # E:unpack_too_many
    return a


def unpack_scalar(x):
    a, b = x  # E:unpack_scalar
    return a


def view_written_then_read(a):
    row = a[0]
    row[0] = 1.0  # E:view_written_then_read
    return a.sum()


def global_array(x):
    return reads_global_array(x)


def reads_global_array(x):
    return x * GLOBAL_ARRAY  # E:global_array


def helper(a, b):
    return a * b


def helper_too_few(x):
    return helper(x)  # E:helper_too_few


def helper_too_many(x):
    return helper(x, x, x)  # E:helper_too_many


def helper_bad_keyword(x):
    return helper(x, c=x)  # E:helper_bad_keyword


def nested_too_many(x):
    def inner(t):
        return t * 2.0
    return inner(x, x)  # E:nested_too_many


def uses_raise(x):
    if x < 0.0:
        raise ValueError("negative")  # E:uses_raise
    return x


def uses_walrus(x):
    if (y := x * 2.0) > 1.0:  # E:uses_walrus
        return y
    return x


def uses_del(x):
    y = x
    del y  # E:uses_del
    return x


def uses_import(x):
    import cmath  # E:uses_import
    return x


def uses_complex(x):
    return x * 1j  # E:uses_complex


def uses_list(x):
    items = [x, x]
    items[0] = 2.0  # E:uses_list
    return x


def uses_is_not_none(x, y):
    return x is y  # E:uses_is_not_none


def uses_in(x, t):
    return x in t  # E:uses_in


def shift_operator(n):
    return n << 2  # E:shift_operator


def bitwise_ints(n):
    return n & 3  # E:bitwise_ints


def tuple_times(x):
    t = (x, x)
    return t * 2  # E:tuple_times


def add_tuple_float(x):
    t = (x, x)
    return t + x  # E:add_tuple_float


def array_truth(a):
    if a:  # E:array_truth
        return 1.0
    return 0.0


def tuple_index_variable(x, i):
    t = (x, (x, x))
    return t[i]  # E:tuple_index_variable


def tuple_index_range(x):
    t = (x, x)
    return t[5]  # E:tuple_index_range


def bad_dtype(n):
    return np.zeros(n, dtype=np.complex128)  # E:bad_dtype


def float_shape(x):
    return np.zeros(x)  # E:float_shape


def matmul_scalar_rank(a):
    return a @ a  # E:matmul_scalar_rank


def reduce_bad_axis(a):
    return np.sum(a, axis=3)  # E:reduce_bad_axis


def nonconst_axis(a, k):
    return np.sum(a, axis=k)  # E:nonconst_axis


def too_many_math_args(x):
    return math.sin(x, x)  # E:too_many_math_args


def unsupported_keyword(a):
    return np.sum(a, where=a > 0.0)  # E:unsupported_keyword


def iterate_scalar(x):
    s = 0.0
    for t in x:  # E:iterate_scalar
        s = s + t
    return s


def aug_changes_shape(a, m):
    a += m  # E:aug_changes_shape
    return a


def aliasing_argument(a):
    row = a[0]
    row[1] = 5.0  # E:aliasing_argument
    return 0.0


def passes_function(x):
    return helper(math, x)  # E:passes_function


def function_as_value(x):
    f = math.sin
    return f  # E:function_as_value


def float_compare_none(x):
    return x + None  # E:float_compare_none


def huge_constant(n):
    return n + 123456789012345678901234567890  # E:huge_constant


def expression_statement(x):
    x + 1.0  # E:expression_statement
    return x


def empty_min(x):
    return min([])  # E:empty_min


def np_array_scalar(x):
    return np.array(x)  # E:np_array_scalar


def newaxis(a):
    a[None, :] = 1.0  # E:newaxis
    return a


def chained_array_compare(a):
    return 0.0 < a < 1.0  # E:chained_array_compare


def assign_slice_of_slice(a):
    a[1:][0:1] = 0.0  # E:assign_slice_of_slice
    return a


def ellipsis_index(a):
    return a[...]  # E:ellipsis_index


def starred_call(x):
    t = (x, x)
    return helper(*t)  # E:starred_call


def double_star_call(x):
    return helper(**{"a": x, "b": x})  # E:double_star_call


def nested_decorator(x):
    @staticmethod
    def inner(t):  # E:nested_decorator
        return t
    return x


def match_statement(x):
    match x:  # E:match_statement
        case 1.0:
            return 1.0
    return x


def uses_async(x):
    async def inner():  # E:uses_async
        return x
    return x


def nested_two_generators(x, n):
    return sum(i * j * x for i in range(n) for j in range(n))  # E:nested_two_generators


def list_comp_alone(x, n):
    t = [x * i for i in range(n)]  # E:list_comp_alone
    return x


def set_into_scalar(x):
    x[0] = 1.0  # E:set_into_scalar
    return x


def range_keyword(n):
    s = 0
    for i in range(n, step=2):  # E:range_keyword
        s = s + i
    return s


def lambda_default_late(x):
    g = lambda t, k=x: t * k  # E:lambda_default_late
    x = 5.0
    return g(1.0)


def def_default(x):
    def inner(t, k=x * 2.0):  # E:def_default
        return t * k
    return inner(x)


def constant_defaults(x):
    """Constant defaults are fine: they cannot change between definition and call."""
    g = lambda t, k=2.0, m=-1.0: t * k + m

    def h(t, scale=3):
        return t * scale
    return g(x) + g(x, 0.5) + h(x) + h(x, scale=-2)


def shadowed_global(x):
    y = math.sin(x)  # E:shadowed_global
    math = 2.0
    return y + math


def closure_reads_later(x):
    def inner():
        return later * 2.0
    r = inner()  # E:closure_reads_later
    later = x
    return r


def huge_global(n):
    return n + HUGE  # E:huge_global


def float_of_array(a):
    return float(a)  # E:float_of_array


def int_of_array(a):
    return int(a)  # E:int_of_array


def round_digits_variable(x, nd):
    return round(x, nd)  # E:round_digits_variable


def reshape_no_shape(a):
    return a.reshape()  # E:reshape_no_shape


def zeros_empty_shape(x):
    return np.zeros(())  # E:zeros_empty_shape


def plain(x, y):
    """A correct function, for runtime argument checks."""
    return x * y + 1.0


def vector(a):
    """A correct function of an array, for runtime argument checks."""
    return np.sum(a * a)
