"""Embed a WIT world's type information in a core Wasm module, as
`wasm-tools component embed` does: copy the `component-type` custom section
that `wit-bindgen c` writes (in its `*_component_type.o`) to the end of the
module, so `jco new` can make a component of it.

    python3 embed_world.py WORLD_component_type.o CORE.wasm OUT.wasm
"""
import sys


def leb(data, pos):
    """An unsigned LEB128 at pos: (value, position after it)."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def sections(data):
    """(id, whole section, body) of each section after the 8-byte header."""
    pos = 8
    while pos < len(data):
        size, body = leb(data, pos + 1)
        yield data[pos], data[pos:body + size], data[body:body + size]
        pos = body + size


def custom_name(body):
    length, start = leb(body, 0)
    return body[start:start + length]


def main(object_path, module_path, out_path):
    with open(object_path, "rb") as f:
        obj = f.read()
    found = [whole for kind, whole, body in sections(obj)
             if kind == 0 and custom_name(body).startswith(b"component-type")]
    if len(found) != 1:
        sys.exit(f"{object_path}: expected one component-type section, found {len(found)}")
    with open(module_path, "rb") as f:
        module = f.read()
    with open(out_path, "wb") as f:
        f.write(module + found[0])


if __name__ == "__main__":
    main(*sys.argv[1:4])
