"""The seed tool's extract step: read psql's CSV output line by line and write gzip files
(Python's default compression level, 9), a new file every CHUNK lines, each with the header."""
import gzip
import sys

out_dir, chunk = sys.argv[1], int(sys.argv[2])
header = sys.stdin.readline()
n, part, f = 0, 0, None
for line in sys.stdin:
    if f is None or n == chunk:
        if f:
            f.close()
        part += 1
        f = gzip.open(f"{out_dir}/part_{part:05d}.csv.gz", "wt")
        f.write(header)
        n = 0
    f.write(line)
    n += 1
if f:
    f.close()
