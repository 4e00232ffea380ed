"""The type stubs (fastconv/*.pyi) describe the runtime exactly.

Each stub is parsed with ast and compared with the imported module through
inspect: the same public names, and for every function and method the same
parameter names, kinds and defaults.  For an @overload group every overload
must use the runtime's parameter names in the runtime's order (overloads may
make a parameter keyword-only or drop a default, which is how they narrow the
return type).  Catches a stub that drifts when an op gains or renames an
argument.  Works from the source tree and against an installed wheel.
"""
import ast
import importlib
import inspect
from pathlib import Path

import pytest

import fastconv

PACKAGE_DIR = Path(fastconv.__file__).parent
STUBBED_MODULES = ["fastconv", "fastconv.nn", "fastconv._core"]
# Layer is the base class: the stub declares the forward/backward every layer defines.
STUB_ONLY_METHODS = {("Layer", "forward"), ("Layer", "backward")}
# The stubs' own helpers (type aliases, private classes) are not runtime names.
STUB_PRIVATE_PREFIX = "_"


def stub_path(module_name):
    parts = module_name.split(".")[1:]
    return PACKAGE_DIR / ("__init__.pyi" if not parts else parts[-1] + ".pyi")


def parse_stub(module_name):
    path = stub_path(module_name)
    assert path.is_file(), f"{module_name}: stub {path} is missing from the package"
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_overload(node):
    return any(isinstance(d, ast.Name) and d.id == "overload" for d in node.decorator_list)


def is_property(node):
    return any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list)


def stub_parameters(node):
    """[(name, kind, default or inspect.Parameter.empty)] of a stub def."""
    a = node.args
    params = []
    positional = a.posonlyargs + a.args
    defaults = [inspect.Parameter.empty] * (len(positional) - len(a.defaults)) + [
        ast.literal_eval(d) for d in a.defaults]
    for arg, default in zip(a.posonlyargs, defaults):
        params.append((arg.arg, inspect.Parameter.POSITIONAL_ONLY, default))
    for arg, default in zip(a.args, defaults[len(a.posonlyargs):]):
        params.append((arg.arg, inspect.Parameter.POSITIONAL_OR_KEYWORD, default))
    if a.vararg:
        params.append((a.vararg.arg, inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.empty))
    for arg, default in zip(a.kwonlyargs, a.kw_defaults):
        value = inspect.Parameter.empty if default is None else ast.literal_eval(default)
        params.append((arg.arg, inspect.Parameter.KEYWORD_ONLY, value))
    if a.kwarg:
        params.append((a.kwarg.arg, inspect.Parameter.VAR_KEYWORD, inspect.Parameter.empty))
    return params


def runtime_parameters(obj):
    return [(p.name, p.kind, p.default) for p in inspect.signature(obj).parameters.values()]


def functions_of(body):
    """name -> [def nodes] (several for an overload group), properties excluded."""
    found = {}
    for node in body:
        if isinstance(node, ast.FunctionDef) and not is_property(node):
            found.setdefault(node.name, []).append(node)
    return found


def check_function(label, nodes, runtime_obj):
    runtime = runtime_parameters(runtime_obj)
    overloads = [n for n in nodes if is_overload(n)]
    if overloads:
        for node in overloads:
            names = [p[0] for p in stub_parameters(node)]
            assert names == [p[0] for p in runtime], (
                f"{label}: overload at line {node.lineno} has parameters {names}, "
                f"runtime has {[p[0] for p in runtime]}")
        return
    (node,) = nodes
    stub = stub_parameters(node)
    assert stub == runtime, f"{label}: stub parameters {stub} != runtime parameters {runtime}"


def public_names(module):
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return set(exported)
    return {n for n, v in vars(module).items()
            if not n.startswith("_") and callable(v) and getattr(v, "__module__", None) == module.__name__}


def stub_top_level(tree):
    names = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.setdefault(node.name, node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.setdefault(node.target.id, node)
    return names


@pytest.mark.parametrize("module_name", STUBBED_MODULES)
def test_stub_covers_the_public_names(module_name):
    module = importlib.import_module(module_name)
    stubbed = {n for n in stub_top_level(parse_stub(module_name)) if not n.startswith(STUB_PRIVATE_PREFIX)}
    stubbed |= {"__version__"} & set(dir(module))
    expected = public_names(module)
    assert expected - stubbed == set(), f"{module_name}: runtime names missing from the stub: {sorted(expected - stubbed)}"
    unknown = {n for n in stubbed if not hasattr(module, n)}
    assert unknown == set(), f"{module_name}: stub names the runtime lacks: {sorted(unknown)}"


@pytest.mark.parametrize("module_name", ["fastconv", "fastconv.nn"])
def test_stub_all_matches_runtime_all(module_name):
    module = importlib.import_module(module_name)
    tree = parse_stub(module_name)
    stub_all = [ast.literal_eval(node.value) for node in tree.body
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets)]
    assert stub_all == [list(module.__all__)], f"{module_name}: stub __all__ {stub_all} != runtime {module.__all__}"


@pytest.mark.parametrize("module_name", STUBBED_MODULES)
def test_function_signatures_match(module_name):
    module = importlib.import_module(module_name)
    for name, nodes in functions_of(parse_stub(module_name).body).items():
        check_function(f"{module_name}.{name}", nodes, getattr(module, name))


def stub_lineage(node, classes):
    """The stub class and every stub class it derives from."""
    lineage = [node]
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in classes:
            lineage += stub_lineage(classes[base.id], classes)
    return lineage


@pytest.mark.parametrize("module_name", ["fastconv", "fastconv.nn"])
def test_class_methods_match(module_name):
    module = importlib.import_module(module_name)
    classes = {n.name: n for n in parse_stub(module_name).body if isinstance(n, ast.ClassDef)}
    for class_name, node in classes.items():
        if not hasattr(module, class_name):
            continue  # a stub-only helper class such as _Losses
        runtime_class = getattr(module, class_name)
        for method, nodes in functions_of(node.body).items():
            label = f"{module_name}.{class_name}.{method}"
            if (class_name, method) in STUB_ONLY_METHODS:
                continue
            assert method in vars(runtime_class) or hasattr(runtime_class, method), f"{label}: not at runtime"
            check_function(label, nodes, getattr(runtime_class, method))
        # every public method the runtime class defines itself is in its stub (or a stub base)
        stub_methods = set()
        for base in stub_lineage(node, classes):
            stub_methods |= {n.name for n in base.body if isinstance(n, ast.FunctionDef)}
            stub_methods |= {n.target.id for n in base.body
                             if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)}
        own = {n for n, v in vars(runtime_class).items()
               if (not n.startswith("_") or n in ("__init__", "__call__"))
               and (inspect.isfunction(v) or isinstance(v, property))}
        if hasattr(runtime_class, "_fields"):
            own -= {"_fields", "count", "index"}
        missing = own - stub_methods
        assert missing == set(), f"{module_name}.{class_name}: runtime methods missing from the stub: {sorted(missing)}"


def test_package_is_marked_typed():
    assert (PACKAGE_DIR / "py.typed").is_file(), f"py.typed missing from {PACKAGE_DIR}"
