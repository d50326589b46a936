# Shared by the demo steps and `make examples-test`: builds librpcx and the C examples against
# it, and the Python package into its venv. Source it; it defines functions only.
#
#   build_c_examples OUTDIR   cc-compiles examples/c/{arith_client,arith_server}.c against
#                             target/debug/librpcx.so and include/rpcx.h into OUTDIR
#   python_bin                prints the venv's python after `make py-install` (quiet)

build_c_examples() {
  local out=$1 root
  root=$(pwd)
  cargo build -q -p rpcx-ffi
  scripts/lib/soname-link.sh "$root/target/debug"
  mkdir -p "$out"
  for ex in arith_client arith_server; do
    cc -std=c11 -Wall -Wextra -Werror -pedantic -I"$root/include" "examples/c/$ex.c" \
      -L"$root/target/debug" -Wl,-rpath,"$root/target/debug" -lrpcx -o "$out/$ex"
  done
}

python_bin() {
  make --no-print-directory -s py-install >&2
  echo "$(pwd)/build/py-venv/bin/python"
}
