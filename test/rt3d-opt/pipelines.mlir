// Pass flags and --pass-pipeline, upstream and ours, stdin and -o, --split-input-file.
// RUN: rt3d-opt %s --canonicalize | filecheck %s --check-prefix=FOLDED
// RUN: rt3d-opt - --pass-pipeline='builtin.module(func.func(canonicalize))' < %s | filecheck %s --check-prefix=FOLDED
// RUN: cat %s | rt3d-opt -p 'canonicalize,cse' -o %t.mlir && filecheck %s --check-prefix=FOLDED < %t.mlir
// RUN: rt3d-opt %s | filecheck %s --check-prefix=KEPT
// RUN: rt3d-opt %s --split-input-file --canonicalize | filecheck %s --check-prefix=SPLIT
// RUN: rt3d-opt %s --canonicalize --mlir-print-ir-after-all 2>&1 >/dev/null | filecheck %s --check-prefix=AFTER
// RUN: rt3d-opt %s --sparse3d-from-linalg --mlir-print-ir-before-all 2>&1 >/dev/null | filecheck %s --check-prefix=BEFORE
// RUN: rt3d-opt %s --sparse3d-from-linalg --canonicalize --mlir-timing 2>&1 >/dev/null | filecheck %s --check-prefix=TIMING
// RUN: rt3d-opt --list-passes | filecheck %s --check-prefix=LIST
// RUN: rt3d-opt --help | filecheck %s --check-prefix=LIST
// RUN: rt3d-opt --emit-irdl | filecheck %s --check-prefix=IRDL

// FOLDED-LABEL: func.func @first
// FOLDED-NEXT:  return %arg0 : i32
// KEPT-LABEL:   func.func @first
// KEPT:         arith.addi
// SPLIT:        func.func @first
// SPLIT:        // -----
// SPLIT:        func.func @second
// AFTER:        IR Dump After {{.*}}anonicalize
// BEFORE:       IR Dump Before sparse3d-from-linalg
// TIMING:       Execution time report
// TIMING:       sparse3d-from-linalg
// TIMING:       Canonicalizer
// LIST:         --sparse3d-from-linalg
// LIST-NEXT:    group-shape=auto
// LIST:         --kgs-lower
// IRDL:         irdl.dialect @sparse3d
// IRDL:         irdl.operation @kgs_conv3d
// IRDL:         irdl.operands(input: {{.*}}, values: {{.*}}, group_offsets: {{.*}}, positions: {{.*}}, init: {{.*}})
func.func @first(%a: i32) -> i32 {
  %c = arith.constant 0 : i32
  %0 = arith.addi %a, %c : i32
  return %0 : i32
}
// -----
func.func @second() {
  return
}
