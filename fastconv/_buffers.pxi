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
#
# The handler places each block's data itself (block_pad more bytes from
# NumPy's handler, the block's address and size kept just before the data):
# from FC_CACHE_MIN_BYTES on FC_PAGE_OFFSET bytes into a page, smaller ones
# on a 64-byte boundary.  NumPy's large blocks start 16 bytes past a page,
# so every 64-byte vector store into them, and every other 32-byte one,
# spans two cache lines: into 64-byte aligned out= arrays cifar-3to64's
# forward took 0.89 of the time at AVX-512 (its Winograd blocks write whole
# vectors), 0.97 at AVX2.  But placed 64 bytes into a page, a dw-128x56
# output sat 48 bytes past its NumPy input's page offset, and the sweep
# took 1.1-1.15x the time: its stores matched the input loads running ahead
# of them in the low 12 address bits, which the core checks before the
# rest.  Half a page away from NumPy's blocks, and at the same offset as
# the outputs of the layer before (0: no slower), neither happens: one
# thread, AMD EPYC Zen 4, processes alternated, cifar-3to64 0.96-0.99 of
# the time at AVX-512 and 0.91-0.95 at AVX2, dw-128x56 0.96-1.03 and
# 0.94-0.98, the 2x2 average-pool backward 0.89-0.97, vgg-64x56 and the
# pooling forwards within noise.
from libc.string cimport memcpy
from libc.stdint cimport uintptr_t
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
    FC_ALIGN = 64                        # every block's data starts on this boundary
    FC_PAGE = 4096
    FC_PAGE_OFFSET = 2048                # where in a page large blocks start
    FC_HEADER = 16                       # the block's address and size, before its data

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


cdef size_t block_pad(size_t size) noexcept nogil:
    """Bytes allocated beyond a block's data: its header and the slack to
    place the data (FC_PAGE_OFFSET into a page from FC_CACHE_MIN_BYTES on,
    else on a 64-byte boundary)."""
    return FC_HEADER + (FC_PAGE if size >= FC_CACHE_MIN_BYTES else FC_ALIGN)


cdef void *aligned_from(void *raw, size_t size) noexcept nogil:
    """The data of the block NumPy's handler gave as raw (size +
    block_pad(size) bytes; NULL if it failed), placed, its header written:
    the raw address and the data's size in the 16 bytes before the data."""
    if raw == NULL:
        return NULL
    cdef uintptr_t first = <uintptr_t>raw + FC_HEADER, data
    if size >= FC_CACHE_MIN_BYTES:
        data = first + ((FC_PAGE_OFFSET - first % FC_PAGE) % FC_PAGE)
    else:
        data = (first + FC_ALIGN - 1) & ~(<uintptr_t>(FC_ALIGN - 1))
    (<void **>data - 1)[0] = raw
    (<size_t *>data - 2)[0] = size
    return <void *>data


cdef void *aligned_malloc(size_t size) noexcept nogil:
    if size > <size_t>-1 - block_pad(size):
        return NULL
    return aligned_from(cache.base.malloc(cache.base.ctx, size + block_pad(size)), size)


cdef size_t block_size(void *data) noexcept nogil:
    return (<size_t *>data - 2)[0]


cdef void aligned_free(void *data) noexcept nogil:
    cdef size_t size = block_size(data)
    cache.base.free(cache.base.ctx, (<void **>data - 1)[0], size + block_pad(size))


cdef void give_back(const fc_cached_block *blocks, int n) noexcept nogil:
    cdef int i
    for i in range(n):
        aligned_free(blocks[i].ptr)


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
    return aligned_malloc(size)


cdef void *cache_calloc(void *ctx, size_t nelem, size_t elsize) noexcept nogil:
    if elsize != 0 and nelem > (<size_t>-1 - FC_HEADER - FC_PAGE) // elsize:
        return NULL
    cdef size_t size = nelem * elsize
    return aligned_from(cache.base.calloc(cache.base.ctx, 1, size + block_pad(size)), size)


cdef void *cache_realloc(void *ctx, void *ptr, size_t new_size) noexcept nogil:
    if ptr == NULL:
        return aligned_malloc(new_size)
    cdef void *data = aligned_malloc(new_size)
    if data != NULL:
        memcpy(data, ptr, min(new_size, block_size(ptr)))
        aligned_free(ptr)
    return data


cdef void cache_free(void *ctx, void *ptr, size_t size) noexcept nogil:
    cdef fc_cached_block evicted[FC_CACHE_SLOTS]
    cdef int nevicted = 0, keep = 0
    if ptr == NULL:
        return
    size = block_size(ptr)   # what was asked for, whatever NumPy passes
    if size >= FC_CACHE_MIN_BYTES:
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
    aligned_free(ptr)


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
