/* Resolve a git delta and find where token prefixes occur in the result, reading only
 * what the delta inserts.
 *
 * A delta builds its target from copies of the base and inserted literals.  A needle
 * (a "<prefix>_" string) that lies wholly inside one copy is a needle of the base at
 * the mapped offset, and the base's needle offsets are known (its own resolve found
 * them).  So each target position t, in the op that writes it, is either
 *   - interior (t + LONGEST <= the op's end): in a copy, a needle here is exactly a
 *     base needle carried over; in an insert, the literal is searched;
 *   - in the op's tail (the last LONGEST - 1 positions): a needle here may run into
 *     the next op, so it is checked against the resolved target.
 * Every position belongs to exactly one op and to one of the two cases, so the
 * offsets returned are exactly those a search of the whole target would find,
 * each once, in ascending order.  The expensive part of a full search, reading
 * every copied byte again, is gone: most of a delta's target is copies.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    Py_buffer *views;
    Py_ssize_t count;
    Py_ssize_t longest;
    unsigned char first[256];
    int single; /* the first byte of every needle when they share one, else -1 */
} Needles;

typedef struct {
    int copy;
    Py_ssize_t from;
    Py_ssize_t size;
    const unsigned char *literal;
} Op;

static int read_size(const unsigned char **at, const unsigned char *end, Py_ssize_t *out)
{
    size_t value = 0;
    int shift = 0;
    unsigned char byte;
    do {
        if (*at >= end || shift > 56)
            return -1;
        byte = *(*at)++;
        value |= (size_t)(byte & 0x7f) << shift;
        shift += 7;
    } while (byte & 0x80);
    if (value > (size_t)PY_SSIZE_T_MAX)
        return -1;
    *out = (Py_ssize_t)value;
    return 0;
}

/* The next instruction at *at (git's delta format, gitformat-pack "Deltified representation"). */
static int next_op(const unsigned char **at, const unsigned char *end, Op *op)
{
    unsigned char command = *(*at)++;
    if (command & 0x80) {
        size_t from = 0, size = 0;
        for (int i = 0; i < 4; i++)
            if (command & (1 << i)) {
                if (*at >= end)
                    return -1;
                from |= (size_t)*(*at)++ << (8 * i);
            }
        for (int i = 0; i < 3; i++)
            if (command & (0x10 << i)) {
                if (*at >= end)
                    return -1;
                size |= (size_t)*(*at)++ << (8 * i);
            }
        op->copy = 1;
        op->from = (Py_ssize_t)from;
        op->size = size ? (Py_ssize_t)size : 0x10000;
        op->literal = NULL;
        return 0;
    }
    if (command == 0 || end - *at < command)
        return -1; /* 0 is reserved; a literal may not run past the delta */
    op->copy = 0;
    op->from = 0;
    op->size = command;
    op->literal = *at;
    *at += command;
    return 0;
}

static int needle_at(const Needles *needles, const unsigned char *data, Py_ssize_t length,
                     Py_ssize_t at)
{
    for (Py_ssize_t i = 0; i < needles->count; i++) {
        const Py_buffer *needle = &needles->views[i];
        if (at + needle->len <= length && memcmp(data + at, needle->buf, needle->len) == 0)
            return 1;
    }
    return 0;
}

static int add_offset(PyObject *found, Py_ssize_t offset)
{
    PyObject *number = PyLong_FromSsize_t(offset);
    if (number == NULL)
        return -1;
    int failed = PyList_Append(found, number);
    Py_DECREF(number);
    return failed;
}

/* Add every t in [from, to) where a needle starts in data[0:length] (it may run past to). */
static int search(const Needles *needles, const unsigned char *data, Py_ssize_t length,
                  Py_ssize_t from, Py_ssize_t to, PyObject *found)
{
    if (needles->single >= 0) {
        /* One first byte for every needle (one prefix, the usual case): memchr skips. */
        const unsigned char *at = data + from, *end = data + to;
        while (at < end && (at = memchr(at, needles->single, end - at)) != NULL) {
            if (needle_at(needles, data, length, at - data) && add_offset(found, at - data) < 0)
                return -1;
            at++;
        }
        return 0;
    }
    for (Py_ssize_t t = from; t < to; t++)
        if (needles->first[data[t]] && needle_at(needles, data, length, t) &&
            add_offset(found, t) < 0)
            return -1;
    return 0;
}

/* First index in the ascending offsets[0:count] that is >= value. */
static Py_ssize_t lower_bound(const Py_ssize_t *offsets, Py_ssize_t count, Py_ssize_t value)
{
    Py_ssize_t low = 0, high = count;
    while (low < high) {
        Py_ssize_t middle = low + (high - low) / 2;
        if (offsets[middle] < value)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

static int check(Py_ssize_t condition)
{
    if (!condition)
        PyErr_SetString(PyExc_ValueError, "the delta does not apply to its base");
    return condition ? 0 : -1;
}

/* Write the target; every copy and literal is checked against the sizes first. */
static int build(const Py_buffer *base, const unsigned char *ops, const unsigned char *end,
                 unsigned char *target, Py_ssize_t target_size)
{
    Py_ssize_t written = 0;
    Op op;
    while (ops < end) {
        if (check(next_op(&ops, end, &op) == 0 && op.size <= target_size - written) < 0)
            return -1;
        if (op.copy) {
            if (check(op.from <= base->len && op.size <= base->len - op.from) < 0)
                return -1;
            memcpy(target + written, (const char *)base->buf + op.from, op.size);
        } else {
            memcpy(target + written, op.literal, op.size);
        }
        written += op.size;
    }
    return check(written == target_size);
}

/* The needle offsets of the built target, op by op (see the comment at the top). */
static int find(const Needles *needles, const Py_ssize_t *carried, Py_ssize_t carried_count,
                const unsigned char *ops, const unsigned char *end, const unsigned char *target,
                Py_ssize_t target_size, PyObject *found)
{
    Py_ssize_t written = 0, longest = needles->longest;
    Op op;
    while (ops < end) {
        next_op(&ops, end, &op); /* already checked by build() */
        Py_ssize_t interior = op.size - longest + 1 > 0 ? op.size - longest + 1 : 0;
        Py_ssize_t searched_from = written; /* an insert: interior and tail alike */
        if (op.copy) {
            Py_ssize_t i = lower_bound(carried, carried_count, op.from);
            for (; i < carried_count && carried[i] < op.from + interior; i++)
                if (add_offset(found, written + carried[i] - op.from) < 0)
                    return -1;
            searched_from = written + interior;
        }
        if (search(needles, target, target_size, searched_from, written + op.size, found) < 0)
            return -1;
        written += op.size;
    }
    return 0;
}

static int read_needles(PyObject *sequence, Needles *needles)
{
    memset(needles, 0, sizeof(*needles));
    PyObject *items = PySequence_Fast(sequence, "needles must be a sequence of bytes");
    if (items == NULL)
        return -1;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    if (count < 1) {
        PyErr_SetString(PyExc_ValueError, "at least one needle is needed");
        Py_DECREF(items);
        return -1;
    }
    needles->views = PyMem_Calloc(count, sizeof(Py_buffer));
    if (needles->views == NULL) {
        Py_DECREF(items);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_buffer *view = &needles->views[i];
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(items, i), view, PyBUF_SIMPLE) < 0)
            break;
        needles->count++;
        if (view->len < 1) {
            PyErr_SetString(PyExc_ValueError, "a needle may not be empty");
            break;
        }
        needles->first[((const unsigned char *)view->buf)[0]] = 1;
        if (view->len > needles->longest)
            needles->longest = view->len;
    }
    Py_DECREF(items);
    if (PyErr_Occurred())
        return -1;
    needles->single = ((const unsigned char *)needles->views[0].buf)[0];
    for (int byte = 0; byte < 256; byte++)
        if (needles->first[byte] && byte != needles->single)
            needles->single = -1;
    return 0;
}

static void release_needles(Needles *needles)
{
    for (Py_ssize_t i = 0; i < needles->count; i++)
        PyBuffer_Release(&needles->views[i]);
    PyMem_Free(needles->views);
}

/* The base's needle offsets as a C array (ascending, as resolve returns them). */
static Py_ssize_t *read_offsets(PyObject *list, Py_ssize_t *count)
{
    PyObject *items = PySequence_Fast(list, "offsets must be a sequence of integers");
    if (items == NULL)
        return NULL;
    *count = PySequence_Fast_GET_SIZE(items);
    Py_ssize_t *offsets = PyMem_Malloc(sizeof(Py_ssize_t) * (*count ? *count : 1));
    if (offsets == NULL) {
        Py_DECREF(items);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *count; i++) {
        offsets[i] = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(items, i));
        if (offsets[i] == -1 && PyErr_Occurred())
            break;
        if (i > 0 && offsets[i] <= offsets[i - 1]) {
            PyErr_SetString(PyExc_ValueError, "offsets must be ascending");
            break;
        }
    }
    Py_DECREF(items);
    if (PyErr_Occurred()) {
        PyMem_Free(offsets);
        return NULL;
    }
    return offsets;
}

static PyObject *resolve_parts(const Py_buffer *base, const Py_buffer *delta,
                               const Needles *needles, const Py_ssize_t *carried,
                               Py_ssize_t carried_count)
{
    const unsigned char *ops = delta->buf, *end = ops + delta->len;
    Py_ssize_t base_size, target_size;
    if (check(read_size(&ops, end, &base_size) == 0 && base_size == base->len) < 0 ||
        check(read_size(&ops, end, &target_size) == 0) < 0)
        return NULL;
    PyObject *target = PyBytes_FromStringAndSize(NULL, target_size);
    if (target == NULL)
        return NULL;
    unsigned char *written = (unsigned char *)PyBytes_AS_STRING(target);
    PyObject *found = PyList_New(0);
    if (found == NULL || build(base, ops, end, written, target_size) < 0 ||
        find(needles, carried, carried_count, ops, end, written, target_size, found) < 0) {
        Py_DECREF(target);
        Py_XDECREF(found);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, target, found);
    Py_DECREF(target);
    Py_DECREF(found);
    return pair;
}

static PyObject *resolve(PyObject *self, PyObject *args)
{
    Py_buffer base, delta;
    PyObject *needle_list, *offset_list;
    if (!PyArg_ParseTuple(args, "y*y*OO:resolve", &base, &delta, &needle_list, &offset_list))
        return NULL;
    Needles needles;
    Py_ssize_t carried_count = 0;
    Py_ssize_t *carried = NULL;
    PyObject *result = NULL;
    if (read_needles(needle_list, &needles) == 0 &&
        (carried = read_offsets(offset_list, &carried_count)) != NULL)
        result = resolve_parts(&base, &delta, &needles, carried, carried_count);
    PyMem_Free(carried);
    release_needles(&needles);
    PyBuffer_Release(&base);
    PyBuffer_Release(&delta);
    return result;
}

static PyMethodDef methods[] = {
    {"resolve", resolve, METH_VARARGS,
     "resolve(base, delta, needles, base_offsets) -> (target, offsets)\n\n"
     "Apply a git delta to base; offsets are where any of needles starts in the target,\n"
     "ascending, given base_offsets, the same for base.  ValueError if the delta does\n"
     "not apply."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "scanner._deltas",
    "Resolve git deltas and locate token prefixes in what they insert.", -1, methods,
};

PyMODINIT_FUNC PyInit__deltas(void) { return PyModule_Create(&module); }
