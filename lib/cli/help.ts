// --help texts of the command and its subcommands.
import { DEFAULT_POWER_ITERS, DEFAULT_PRESET, PRESET_NAMES } from './compute';

const PRESETS = PRESET_NAMES.join('|');

const WEIGHT_RULE = `Which tensors are weights:
  A tensor is orthogonalized when its dtype is F16, BF16, F32 or F64 (.npy:
  f2, f4, f8), its rank is at least 2 (+ --batch-dims), no dimension is 0,
  and its name passes --include/--exclude. Its matrix view is
  [rows, cols] = [shape[0], product of the other dimensions]: a linear
  weight [out, in] as is, a conv kernel [out, in, kh, kw] as
  [out, in*kh*kw] (conv1d/conv3d alike); the result is reshaped back.
  With --batch-dims K the first K dimensions are a batch of independent
  matrices ([E, out, in] with K=1: E matrices [out, in]). Everything else
  (vectors, scalars, integer and bool tensors, F8, ...) is copied byte for
  byte.`;

export const HELP = {
  main: `orthogonium: orthogonalize or inspect the weights in tensor files

Usage: orthogonium <command> [options]

Commands:
  orthogonalize <input> -o <output>   write a copy whose weight matrices are orthogonalized
  report <file>                       per tensor: shape, dtype, σmin, σmax, orthogonality error, stable rank
  info                                version, backends, and why CUDA is off when it is
  demo                                every preset on seeded random weights (npm run demo)

Files: safetensors (F16, BF16, F32, F64 computed on; other dtypes copied) and
.npy (f2, f4, f8, little or big endian, C or Fortran order).

Options:
  -h, --help      help (also: orthogonium <command> --help)
  -v, --version   print the version

Exit codes: 0 success, 1 processing error (unreadable or corrupt file,
numeric failure, I/O error, report --check failed), 2 usage error (bad
command line, the output is the input, the output exists without --force).

Examples:
  orthogonium orthogonalize model.safetensors -o model-orth.safetensors
  orthogonium report model-orth.safetensors --check 1e-4
  orthogonium info

Documentation: docs/cli.md
`,

  orthogonalize: `Usage: orthogonium orthogonalize <input> -o <output> [options]

Writes a copy of <input> (safetensors or .npy) in which every weight matrix
is orthogonalized (by default: its orthogonal polar factor UVᵀ, the nearest
orthogonal matrix, to working precision); all other tensors, the header and
__metadata__ are copied byte for byte. Results are written back in each
tensor's own dtype (F16/BF16 rounded to nearest, ties to even).

Options:
  -o, --output PATH      where to write (required). Written to a temporary file
                         in the same directory and renamed into place when
                         complete; never the input itself
  -f, --force            replace <output> if it exists (default: refuse)
  -p, --params NAME      preset: ${PRESETS} (default: ${DEFAULT_PRESET}).
                         polar converges (tolerance-driven); the others are
                         orthogonium's training presets, made for weights
                         that stay near-orthogonal between steps: on weights
                         seen once they can stop far from orthogonal
      --tol X            polar only: stop once ‖QᵀQ − I‖_F/√k <= X for every
                         matrix (default: 4e-6 in float32, 1e-13 in float64).
                         A weight that cannot reach it (rank-deficient) stops
                         the run with ERR_ORTHO_RANK_DEFICIENT
      --device DEV       auto|cpu|cuda|cuda:N (default: auto = CUDA when available)
      --dtype TYPE       computation dtype: auto|float32|float64 (default: auto =
                         float64 for F64 tensors, float32 for the others)
      --include REGEX    only tensors whose name matches (repeatable: any of them)
      --exclude REGEX    leave out tensors whose name matches (repeatable)
      --batch-dims K     leading dimensions that form a batch of matrices (default: 0)
      --power-iters N    power iterations per matrix (default: ${DEFAULT_POWER_ITERS}).
                         The presets do 3 (test: 4) per training step and
                         rely on a warm start from the previous step; a
                         one-shot run starts from a random vector and needs
                         more for a good σmax estimate (its error shrinks
                         like (σ2/σ1)^(2N)); each iteration is two
                         matrix-vector products. The preset's own count
                         reproduces it exactly. No effect on cholesky or polar
      --seed N           seed of the power iteration's start (default: 0; the
                         output is reproducible)
      --precision P      fp32|tf32|bf16: arithmetic of the matrix products of
                         polar and the Björck presets on a GPU (default:
                         fp32). tf32 and bf16 use the tensor cores for all
                         but the last iterations, which are float32 (polar
                         still stops at --tol); on the CPU they compute what
                         fp32 does; other presets refuse them
  -n, --dry-run          list what would be done with each tensor; write nothing
      --json             print a JSON summary (with --dry-run: the plan)
  -q, --quiet            print nothing on success
  -h, --help             this help

${WEIGHT_RULE}

The cholesky presets make rows orthonormal (S = X Xᵀ); a tall matrix is
processed as its transpose, so that its columns come out orthonormal.

A progress bar is drawn on stderr when stderr is a terminal.
Interrupting (Ctrl-C, SIGTERM) or any error leaves no output and no
temporary file; the input is only ever read.

Examples:
  orthogonium orthogonalize model.safetensors -o model-orth.safetensors
  orthogonium orthogonalize model.safetensors -o out.safetensors --params test \\
      --exclude 'embed|lm_head' --exclude 'norm'
  orthogonium orthogonalize experts.safetensors -o out.safetensors --batch-dims 1
  orthogonium orthogonalize weight.npy -o weight-orth.npy --params qr --dtype float64
  orthogonium orthogonalize model.safetensors --dry-run
`,

  report: `Usage: orthogonium report <file> [options]

Prints, for each tensor of a safetensors or .npy file, its name, dtype and
shape and, for weights (same rule as orthogonalize), the matrix view, σmin,
σmax, the orthogonality error ‖WᵀW − I‖_F (‖WWᵀ − I‖_F for wide W) and the
stable rank ‖W‖_F² / σmax². For a batch (--batch-dims): min σmin, max σmax,
max error, min stable rank (--json lists every matrix).

Options:
      --json             machine-readable output
      --check TOL        exit 1 when a measured weight's orthogonality error
                         exceeds TOL (or holds NaN/Inf)
      --include REGEX    only tensors whose name matches (repeatable)
      --exclude REGEX    leave out tensors whose name matches (repeatable)
      --batch-dims K     leading dimensions that form a batch (default: 0)
      --device DEV       auto|cpu|cuda|cuda:N (default: auto)
      --dtype TYPE       computation dtype: float64|float32|auto (default: float64,
                         which measures the stored values exactly)
  -h, --help             this help

${WEIGHT_RULE}

Examples:
  orthogonium report model.safetensors
  orthogonium report model-orth.safetensors --check 1e-4 --exclude norm
  orthogonium report weight.npy --json
`,

  info: `Usage: orthogonium info [--json]

Prints the version, Node.js and N-API versions, the platform, the backends
(CPU threads, the CPU kernels' level and the CPU's features; CUDA devices,
or why CUDA is off), whether cuBLAS/cuSOLVER
load (versions and folder, or why not; no GPU needed) and the preset names.

Examples:
  orthogonium info
  orthogonium info --json
`,

  demo: `Usage: orthogonium demo [options]

Orthogonalizes seeded random batched weights ([8, 64, 64] near identity and
Gaussian, [4, 128, 32], [4, 32, 128]) with every preset and prints, per
shape and preset: the median time of a forward, the largest orthogonality
error of the batch, σmin and σmax. Same as npm run demo.

Options:
      --device DEV       auto|cpu|cuda|cuda:N (default: auto)
      --dtype TYPE       float32|float64 (default: float32)
      --repeat N         timed forwards per row (default: 5)
      --seed N           seed of the inputs and power iterations (default: 0)
      --json             machine-readable output
  -h, --help             this help

Examples:
  orthogonium demo
  orthogonium demo --dtype float64 --json
`,
} as const;
