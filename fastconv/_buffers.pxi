# Output buffers: NumPy's default allocator with a small cache of freed large
# blocks in front of it.
#
# fastconv allocates every output it returns (fastconv/_arrays.py
# new_output).  Outputs of at least FC_CACHE_MIN_BYTES are created with the
# handler below: its malloc hands back a freed block of exactly the requested
# size when the cache holds one, else asks NumPy's default handler; its free
# keeps the block (the oldest leave first while the cache would exceed its
# limit) or gives it back.  A training loop allocates the same shapes every
# step, and each fresh large block costs the process a page fault per page on
# first touch (glibc returns freed blocks to the OS once the top of its heap
# or an mmap threshold is crossed, which other libraries' allocations move):
# on the project's 2-vCPU VM a 2x2 max-pool training step on (8, 64, 112, 112)
# took 4.3-7.3 ms per sample in the benchmark suite against 4.0 ms with its
# three buffers reused.  The arrays own their data as usual (the handler's
# capsule stays referenced by each array, as NumPy does for any handler);
# only what happens to a block after its array dies changes.
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer
from cpython.ref cimport PyObject
from cpython cimport pythread

import numpy as _np

cdef extern from "numpy/arrayobject.h":
    ctypedef struct np_allocator "PyDataMemAllocator":
        void *ctx
        void *(*malloc)(void *ctx, size_t size) noexcept nogil
        void *(*calloc)(void *ctx, size_t nelem, size_t elsize) noexcept nogil
        void *(*realloc)(void *ctx, void *ptr, size_t new_size) noexcept nogil
        void (*free)(void *ctx, void *ptr, size_t size) noexcept nogil

    ctypedef struct np_handler "PyDataMem_Handler":
        char name[127]
        unsigned char version
        np_allocator allocator

    PyObject *np_default_handler "PyDataMem_DefaultHandler"

cdef enum:
    FC_CACHE_SLOTS = 16                  # blocks held at most
    FC_CACHE_MIN_BYTES = 1 << 20         # smaller outputs stay with NumPy's allocator

cdef struct fc_cached_block:
    void *ptr
    size_t size

cdef struct fc_buffer_cache:
    np_allocator *base                   # NumPy's default allocator
    pythread.PyThread_type_lock lock
    size_t limit, held
    int count                            # blocks[0 .. count), oldest first
    fc_cached_block blocks[FC_CACHE_SLOTS]
    unsigned long long hits, misses

cdef fc_buffer_cache cache
cdef np_handler cache_handler


cdef fc_cached_block take_block(int i) noexcept nogil:
    """Removes block i from the cache (the lock held) and returns it."""
    cdef fc_cached_block block = cache.blocks[i]
    cdef int j
    for j in range(i, cache.count - 1):
        cache.blocks[j] = cache.blocks[j + 1]
    cache.count -= 1
    cache.held -= block.size
    return block


cdef int make_room(size_t size, int slots, fc_cached_block *evicted) noexcept nogil:
    """Takes the oldest blocks out (the lock held) until `slots` more blocks and
    `size` more bytes fit; returns how many went into evicted, which the
    caller gives back once the lock is released."""
    cdef int n = 0
    while cache.count > 0 and (cache.count + slots > FC_CACHE_SLOTS or cache.held + size > cache.limit):
        evicted[n] = take_block(0)
        n += 1
    return n


cdef void give_back(const fc_cached_block *blocks, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        cache.base.free(cache.base.ctx, blocks[i].ptr, blocks[i].size)


cdef void *cache_malloc(void *ctx, size_t size) noexcept nogil:
    cdef int i
    cdef void *ptr = NULL
    if size >= FC_CACHE_MIN_BYTES:
        pythread.PyThread_acquire_lock(cache.lock, pythread.WAIT_LOCK)
        # the newest block of that size: the likeliest to be in cache still
        i = cache.count - 1
        while i >= 0 and cache.blocks[i].size != size:
            i -= 1
        if i >= 0:
            ptr = take_block(i).ptr
            cache.hits += 1
        else:
            cache.misses += 1
        pythread.PyThread_release_lock(cache.lock)
        if ptr != NULL:
            return ptr
    return cache.base.malloc(cache.base.ctx, size)


cdef void *cache_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    return cache.base.calloc(cache.base.ctx, nelem, elsize)


cdef void *cache_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    return cache.base.realloc(cache.base.ctx, ptr, new_size)


cdef void cache_free(void *ctx, void *ptr, size_t size) noexcept nogil:
    cdef fc_cached_block evicted[FC_CACHE_SLOTS]
    cdef int nevicted = 0, keep = 0
    if ptr != NULL and size >= FC_CACHE_MIN_BYTES:
        pythread.PyThread_acquire_lock(cache.lock, pythread.WAIT_LOCK)
        if size <= cache.limit:
            keep = 1
            nevicted = make_room(size, 1, evicted)
            cache.blocks[cache.count].ptr = ptr
            cache.blocks[cache.count].size = size
            cache.count += 1
            cache.held += size
        pythread.PyThread_release_lock(cache.lock)
        give_back(evicted, nevicted)
        if keep:
            return
    cache.base.free(cache.base.ctx, ptr, size)


cdef void cache_trim(size_t limit) noexcept nogil:
    """Sets the limit and gives back the oldest blocks until the cache is within it."""
    cdef fc_cached_block evicted[FC_CACHE_SLOTS]
    cdef int nevicted
    pythread.PyThread_acquire_lock(cache.lock, pythread.WAIT_LOCK)
    cache.limit = limit
    nevicted = make_room(0, 0, evicted)
    pythread.PyThread_release_lock(cache.lock)
    give_back(evicted, nevicted)


cdef object _default_handler = <object>np_default_handler   # kept alive: cache.base points into it


cdef object _make_cache_handler():
    cdef const char *name = b"fastconv_buffer_cache"
    cdef int i = 0
    cache.base = &(<np_handler *>PyCapsule_GetPointer(_default_handler, "mem_handler")).allocator
    cache.lock = pythread.PyThread_allocate_lock()
    if cache.lock == NULL:
        raise MemoryError("fastconv: cannot allocate the buffer cache's lock")
    cache.limit = 64 << 20
    cache.held = 0
    cache.count = 0
    while name[i] != 0:
        cache_handler.name[i] = name[i]
        i += 1
    cache_handler.name[i] = 0
    cache_handler.version = 1
    cache_handler.allocator.ctx = NULL
    cache_handler.allocator.malloc = cache_malloc
    cache_handler.allocator.calloc = cache_calloc
    cache_handler.allocator.realloc = cache_realloc
    cache_handler.allocator.free = cache_free
    return PyCapsule_New(&cache_handler, "mem_handler", NULL)


cdef object _cache_capsule = _make_cache_handler()

BUFFER_CACHE_MIN_BYTES = FC_CACHE_MIN_BYTES


cdef cnp.ndarray new_array(int ndim, cnp.npy_intp *dims, int typenum):
    """PyArray_EMPTY(ndim, dims, typenum, 0), from the cache when it is large:
    the fast entry points' (_fast.pxi) counterpart of empty().  The caller has
    checked that the size is allocatable."""
    cdef int64_t nbytes = 8 if typenum == cnp.NPY_FLOAT64 or typenum == cnp.NPY_INT64 else 4
    cdef int i
    for i in range(ndim):
        nbytes *= dims[i]
    if nbytes < FC_CACHE_MIN_BYTES:
        return cnp.PyArray_EMPTY(ndim, dims, typenum, 0)
    previous = cnp.PyDataMem_SetHandler(_cache_capsule)
    try:
        return cnp.PyArray_EMPTY(ndim, dims, typenum, 0)
    finally:
        cnp.PyDataMem_SetHandler(previous)


def empty(shape, dtype):
    """np.empty(shape, dtype) from the buffer cache (any size; only blocks of at
    least BUFFER_CACHE_MIN_BYTES are kept or reused)."""
    previous = cnp.PyDataMem_SetHandler(_cache_capsule)
    try:
        return _np.empty(shape, dtype=dtype)
    finally:
        cnp.PyDataMem_SetHandler(previous)


def set_buffer_cache_limit(size_t limit):
    """Bytes of freed outputs the cache may hold (0 gives every held block back
    and keeps none); returns the previous limit."""
    cdef size_t previous = cache.limit
    cache_trim(limit)
    return previous


def buffer_cache_info():
    """The cache's limit, what it holds now, and its reuse counts."""
    pythread.PyThread_acquire_lock(cache.lock, pythread.WAIT_LOCK)
    info = {"limit": cache.limit, "held": cache.held, "blocks": cache.count,
            "hits": cache.hits, "misses": cache.misses}
    pythread.PyThread_release_lock(cache.lock)
    return info
