// Bad input: one clear line with a location where there is one, exit status 1, no traceback,
// and nothing written to -o.
// RUN: not rt3d-opt %s 2>&1 | filecheck %s --check-prefix=PARSE
// RUN: rm -f %t.out && not rt3d-opt %s -o %t.out 2>&1 | filecheck %s --check-prefix=PARSE && not test -e %t.out
// RUN: not rt3d-opt %S/Inputs/add-zero.mlir --no-such-pass 2>&1 | filecheck %s --check-prefix=UNKNOWN
// RUN: not rt3d-opt %S/Inputs/add-zero.mlir -p 'builtin.module(canonicalize{no-such-option=1})' 2>&1 | filecheck %s --check-prefix=OPTION
// RUN: not rt3d-opt %S/Inputs/add-zero.mlir -p 'builtin.module(canonicalize' 2>&1 | filecheck %s --check-prefix=UNBALANCED
// RUN: not rt3d-opt %S/Inputs/add-zero.mlir -p 'builtin.module(func.func(sparse3d-from-linalg))' 2>&1 | filecheck %s --check-prefix=NESTED
// RUN: not rt3d-opt %t.does-not-exist.mlir 2>&1 | filecheck %s --check-prefix=MISSING
// RUN: not rt3d-opt %S/../Dialect/Sparse3D/invalid.mlir --split-input-file 2>&1 | filecheck %s --check-prefix=LINES
// RUN: not rt3d-opt %S/Inputs/add-zero.mlir --sparse3d-from-linalg='group-shape="8x4' 2>&1 | filecheck %s --check-prefix=QUOTE
// RUN: not rt3d-opt %S/Inputs/add-zero.mlir --no-such-tool-option-or-pass=1 -o 2>&1 | filecheck %s --check-prefix=USAGE

// PARSE-NOT: Traceback
// UNKNOWN: rt3d-opt: error: bad pipeline element 'no-such-pass': 'no-such-pass' does not refer to a registered pass or pass pipeline
// OPTION: rt3d-opt: error: bad pipeline element 'canonicalize{no-such-option=1}': <Pass-Options-Parser>: no such option no-such-option
// UNBALANCED: rt3d-opt: error: unbalanced '(' or '{' in pass pipeline
// NESTED: rt3d-opt: error: 'sparse3d-from-linalg' runs on the whole module: put it at the top level of the pipeline
// MISSING: rt3d-opt: error: cannot read '{{.*}}does-not-exist.mlir': No such file or directory
// Locations after '// -----' markers are the file's own lines (invalid.mlir's second and third cases):
// LINES: invalid.mlir:8:8: error:
// LINES: invalid.mlir:19:8: error:
// LINES: invalid.mlir:30:8: error:
// QUOTE: rt3d-opt: error: pass 'sparse3d-from-linalg': cannot parse options 'group-shape="8x4': No closing quotation
// USAGE: rt3d-opt: error: argument -o: expected one argument
// PARSE: errors.mlir:[[# @LINE + 2]]:26: error: expected non-function type
func.func @bad() {
  %0 = arith.constant 1 : i33x
}
