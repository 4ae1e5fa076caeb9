# Writes into a file through a shared memory mapping, as numpy.memmap or a trainer that
# updates weights in place does. Protocol (line-based, on stdin/stdout):
#   start  -> maps the file, writes byte 0 (the first store dirties the page), prints "dirty"
#   line 1 -> writes byte 1 through the same mapping, prints "rewritten"
#   line 2 -> exits (the mapping is dropped, nothing is msync'ed)
import mmap
import os
import sys

path = sys.argv[1]
fd = os.open(path, os.O_RDWR)
m = mmap.mmap(fd, 0)
m[0:1] = b"B"
print("dirty", flush=True)
sys.stdin.readline()
m[1:2] = b"C"
print("rewritten", flush=True)
sys.stdin.readline()
