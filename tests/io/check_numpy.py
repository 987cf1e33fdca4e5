#!/usr/bin/env python3
"""Load checks for tests/io/test_io.c: do numpy and VTK read what npde writes,
and does npde read what numpy writes?

  check_numpy.py check SPEC     np.load the files SPEC names and compare
  check_numpy.py write DIR      write .npy/.npz fixtures with numpy into DIR
  check_numpy.py vti FILE SPEC  read FILE with vtkXMLImageDataReader and compare

SPEC is a text file, one item per line (expected bytes as hex, '-' = empty;
shapes as comma-separated integers, '-' = scalar; names as hex):
  npz PATH                       following 'array'/'bytes'/'files' lines refer to it
  files NAMEHEX,NAMEHEX,...      the member names of the npz (sorted)
  array NAMEHEX DESCR SHAPE HEX  np.load(npz)[name]
  bytes MEMBERHEX HEX            raw member contents
  npy PATH DESCR SHAPE HEX       np.load(PATH)
  dims NX NY NZ / origin HEX / spacing HEX / field NAMEHEX COMPONENTS HEX   (vti)
Exit status 0 when everything matches; the mismatches are printed otherwise.
"""
import struct
import sys
import zipfile

failures = []


def fail(msg):
    failures.append(msg)
    print("MISMATCH: " + msg)


def unhex(s):
    return b"" if s == "-" else bytes.fromhex(s)


def shape_of(s):
    return () if s == "-" else tuple(int(x) for x in s.split(","))


def compare_array(what, arr, descr, shape, data):
    if arr.dtype.str != descr:
        fail(f"{what}: dtype {arr.dtype.str!r}, expected {descr!r}")
    if arr.shape != shape:
        fail(f"{what}: shape {arr.shape}, expected {shape}")
    if arr.tobytes(order="C") != data:
        fail(f"{what}: values differ: got {arr!r}")


def check(spec):
    import numpy as np

    npz = None
    npz_path = None
    for line in open(spec):
        f = line.split()
        if not f:
            continue
        if f[0] == "npz":
            npz_path = f[1]
            npz = np.load(npz_path, allow_pickle=False)
        elif f[0] == "files":
            want = sorted(unhex(x).decode() for x in f[1].split(","))
            got = sorted(zipfile.ZipFile(npz_path).namelist())
            if got != want:
                fail(f"{npz_path}: members {got}, expected {want}")
        elif f[0] == "array":
            name = unhex(f[1]).decode()
            compare_array(f"{npz_path}[{name!r}]", npz[name], f[2], shape_of(f[3]), unhex(f[4]))
        elif f[0] == "bytes":
            member = unhex(f[1]).decode()
            got = zipfile.ZipFile(npz_path).read(member)
            if got != unhex(f[2]):
                fail(f"{npz_path}: member {member!r} is {got!r}")
        elif f[0] == "npy":
            compare_array(f[1], np.load(f[1], allow_pickle=False), f[2], shape_of(f[3]), unhex(f[4]))
        else:
            fail(f"bad spec line {line!r}")


def write(d):
    """Fixtures whose values test_io.c knows (keep in step with it)."""
    import numpy as np

    a = np.arange(6, dtype="<f8").reshape(2, 3) * 0.5
    b = np.array(-7, dtype="<i8")
    c = np.array([0, 2**64 - 1], dtype="<u8")
    e = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    np.savez(f"{d}/savez.npz", a=a, b=b, c=c, e=e)
    np.savez_compressed(f"{d}/compressed.npz", a=a, b=b, c=c, e=e)
    np.save(f"{d}/fortran.npy", np.asfortranarray(np.arange(24, dtype="<f8").reshape(2, 3, 4)))
    for version in ((2, 0), (3, 0)):
        with open(f"{d}/v{version[0]}.npy", "wb") as fh:
            np.lib.format.write_array(fh, a, version=version)
    np.save(f"{d}/bigendian.npy", np.arange(3, dtype=">f8"))
    np.save(f"{d}/complex.npy", np.zeros(2, dtype=np.complex128))
    np.save(f"{d}/structured.npy", np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")]))


def vti(path, spec):
    import vtk

    errors = []
    reader = vtk.vtkXMLImageDataReader()
    reader.AddObserver("ErrorEvent", lambda obj, ev: errors.append(ev))
    reader.SetFileName(path)
    reader.Update()
    if errors or reader.GetErrorCode() != 0:
        fail(f"{path}: vtkXMLImageDataReader reported an error")
        return
    img = reader.GetOutput()
    pd = img.GetPointData()
    for line in open(spec):
        f = line.split()
        if not f:
            continue
        if f[0] == "dims":
            want = tuple(int(x) for x in f[1:4])
            if tuple(img.GetDimensions()) != want:
                fail(f"dimensions {img.GetDimensions()}, expected {want}")
        elif f[0] in ("origin", "spacing"):
            want = struct.unpack("<3d", unhex(f[1]))
            got = img.GetOrigin() if f[0] == "origin" else img.GetSpacing()
            if tuple(got) != want:
                fail(f"{f[0]} {got}, expected {want}")
        elif f[0] == "field":
            name = unhex(f[1]).decode()
            arr = pd.GetArray(name)
            if arr is None:
                fail(f"no point array {name!r}")
                continue
            if arr.GetDataTypeAsString() != "double":
                fail(f"{name}: type {arr.GetDataTypeAsString()}")
            if arr.GetNumberOfComponents() != int(f[2]):
                fail(f"{name}: {arr.GetNumberOfComponents()} components, expected {f[2]}")
            n = arr.GetNumberOfTuples() * arr.GetNumberOfComponents()
            got = b"".join(struct.pack("<d", arr.GetValue(i)) for i in range(n))
            if got != unhex(f[3]):
                fail(f"{name}: values differ")
        else:
            fail(f"bad spec line {line!r}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        check(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "write":
        write(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "vti":
        vti(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        return 2
    if failures:
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
