"""Build of fastconv's compiled core, fastconv._core.

Everything declarative lives in pyproject.toml; this file only does what
setuptools cannot say there:
- OpenMP flags for the compiler at hand (gcc/clang -fopenmp, Apple clang with
  libomp, MSVC /openmp), found by compiling a probe; without OpenMP the build
  still succeeds, serial, with a warning;
- per-file instruction-set flags: src_c/*_avx2.c are compiled with AVX2+FMA
  enabled and chosen at run time, everything else for the baseline target.
  Never -march=native: the wheel must run on any CPU of its architecture.
No debug info (-g0) unless FASTCONV_EXTRA_CFLAGS adds -g.
Environment: FASTCONV_OPENMP=0 builds without OpenMP; FASTCONV_EXTRA_CFLAGS /
FASTCONV_EXTRA_LDFLAGS append flags (tools/sanitize.sh uses them).
"""
import os
import platform
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from glob import glob

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


def rel(path):
    return os.path.relpath(path, HERE).replace(os.sep, "/")


def target_is_x86():
    """True when the extension is built for x86-64 (or x86), also when cross-compiling."""
    host = os.environ.get("_PYTHON_HOST_PLATFORM", "") + " " + os.environ.get("ARCHFLAGS", "")
    if "arm64" in host or "aarch64" in host:
        return False
    if "x86_64" in host:
        return True
    return platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


class BuildExt(build_ext):
    def build_extensions(self):
        compiler_type = self.compiler.compiler_type
        msvc = compiler_type == "msvc"
        # -g0: Python's CFLAGS carry -g, and the DWARF data would be four fifths
        # of the wheel (1.9 of its 2.1 MB compressed); FASTCONV_EXTRA_CFLAGS=-g
        # puts it back for a debugging build (tools/sanitize.sh does).
        base_cflags = ["/O2"] if msvc else ["-O3", "-std=c11", "-fno-math-errno", "-g0"]
        base_cflags += shlex.split(os.environ.get("FASTCONV_EXTRA_CFLAGS", ""))
        extra_ldflags = shlex.split(os.environ.get("FASTCONV_EXTRA_LDFLAGS", ""))
        omp_cflags, omp_ldflags = self.openmp_flags(msvc)
        simd_flags = ["/arch:AVX2"] if msvc else ["-mavx2", "-mfma"]
        for ext in self.extensions:
            ext.extra_compile_args = base_cflags + omp_cflags + ext.extra_compile_args
            ext.extra_link_args = omp_ldflags + extra_ldflags + ext.extra_link_args
            avx2_sources = [s for s in ext.sources if s.endswith("_avx2.c")]
            if not target_is_x86():
                ext.sources = [s for s in ext.sources if s not in avx2_sources]
                continue
            ext.define_macros.append(("FASTCONV_HAVE_AVX2", "1"))
            if avx2_sources:
                # Compile these files alone with the AVX2 flags and link the objects in.
                ext.sources = [s for s in ext.sources if s not in avx2_sources]
                # Still dependencies of the extension: an edit must relink it.
                ext.depends = list(ext.depends) + avx2_sources
                objects = self.compiler.compile(
                    avx2_sources,
                    output_dir=self.build_temp,
                    macros=ext.define_macros,
                    include_dirs=ext.include_dirs,
                    debug=self.debug,
                    extra_postargs=ext.extra_compile_args + simd_flags,
                    depends=ext.depends,
                )
                ext.extra_objects = list(ext.extra_objects or []) + objects
        super().build_extensions()

    def openmp_flags(self, msvc):
        if os.environ.get("FASTCONV_OPENMP", "1") == "0":
            return [], []
        if msvc:
            return ["/openmp"], []
        candidates = [(["-fopenmp"], ["-fopenmp"])]
        if sys.platform == "darwin":
            prefixes = [os.environ.get("LIBOMP_PREFIX", ""), "/opt/homebrew/opt/libomp",
                        "/usr/local/opt/libomp"]
            for prefix in filter(None, prefixes):
                if os.path.isdir(prefix):
                    candidates.insert(0, (
                        ["-Xpreprocessor", "-fopenmp", "-I" + os.path.join(prefix, "include")],
                        ["-L" + os.path.join(prefix, "lib"), "-lomp"],
                    ))
        for cflags, ldflags in candidates:
            if self.compiles_with(cflags, ldflags):
                return cflags, ldflags
        warnings.warn("fastconv: the compiler has no usable OpenMP; building a serial (1-thread) core")
        return [], []

    def compiles_with(self, cflags, ldflags):
        probe = "#include <omp.h>\nint main(void){int n=0;\n#pragma omp parallel\n{n=omp_get_num_threads();}\nreturn n<1;}\n"
        with tempfile.TemporaryDirectory() as tmp:
            source = os.path.join(tmp, "probe.c")
            with open(source, "w") as f:
                f.write(probe)
            try:
                objects = self.compiler.compile([source], output_dir=tmp, extra_postargs=cflags)
                self.compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=ldflags)
            except Exception:
                return False
        return True


c_sources = sorted(rel(p) for p in glob(os.path.join(HERE, "src_c", "*.c")))
extensions = [
    Extension(
        "fastconv._core",
        sources=["fastconv/_core.pyx"] + c_sources,
        include_dirs=["src_c", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_2_0_API_VERSION"),
                       # the oldest NumPy the package supports (pyproject.toml); 1.22 added the
                       # memory-handler API the buffer cache uses (fastconv/_buffers.pxi)
                       ("NPY_TARGET_VERSION", "NPY_1_25_API_VERSION")],
        depends=sorted(rel(p) for p in glob(os.path.join(HERE, "src_c", "*.h")))
        + sorted(rel(p) for p in glob(os.path.join(HERE, "fastconv", "*.pxi"))),
    )
]

setup(
    ext_modules=cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False,
                             "initializedcheck": False, "cdivision": True},
    ),
    cmdclass={"build_ext": BuildExt},
)
