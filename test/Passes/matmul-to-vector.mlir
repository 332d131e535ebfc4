// RUN: rt3d-opt %s --split-input-file --matmul-to-vector --canonicalize --cse | filecheck %s

// 4 lanes, blocks of 8 vectors (32 columns): 70 columns are 2 full blocks, an scf.parallel over
// the 2 cores, then a tail of 6 columns (a 4-wide and a 2-wide vector). Per k: one broadcast of
// x[k], per vector one load of the weight row and one FMA; the sums start from the fill's scalar
// and the fill is erased.
// CHECK-LABEL: func.func private @matmul_0_blocks(
// CHECK-SAME:    %{{.*}}: memref<8xf32>, %{{.*}}: memref<560xf32>, %{{.*}}: f32, %{{.*}}: memref<70xf32>, %{{.*}}: index)
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>, vector<4xf32>)
// CHECK:           memref.load %{{.*}} : memref<8xf32>
// CHECK-COUNT-8:   vector.fma {{.*}} : vector<4xf32>
// CHECK:           scf.yield
// CHECK-COUNT-8: vector.store {{.*}} : memref<70xf32>, vector<4xf32>
// CHECK-LABEL: func.func private @matmul_0(
// CHECK-SAME:    %{{.*}}: tensor<1x8xf32>, %{{.*}}: tensor<8x70xf32>, %{{.*}}: f32) -> tensor<1x70xf32>
// CHECK:         scf.parallel (%{{.*}}) = (%c0) to (%c2)
// CHECK-NEXT:      func.call @matmul_0_blocks(
// CHECK:         scf.for {{.*}} -> (vector<4xf32>, vector<2xf32>)
// CHECK:         vector.store %{{.*}}, %{{.*}}[%c64] : memref<70xf32>, vector<4xf32>
// CHECK:         vector.store %{{.*}}, %{{.*}}[%c68] : memref<70xf32>, vector<2xf32>
// CHECK-LABEL: func.func @linear(
// CHECK-NOT:     linalg.
// CHECK:         %[[Y:.*]] = call @matmul_0(%arg0, %arg1, %{{.*}})
// CHECK-NEXT:    return %[[Y]]
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "aarch64-neon", vector_lanes = 4 : i64, vector_registers = 32 : i64}} {
  func.func @linear(%x: tensor<1x8xf32>, %w: tensor<8x70xf32>) -> tensor<1x70xf32> {
    %zero = arith.constant 0.0 : f32
    %empty = tensor.empty() : tensor<1x70xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x70xf32>) -> tensor<1x70xf32>
    %y = linalg.matmul ins(%x, %w : tensor<1x8xf32>, tensor<8x70xf32>) outs(%acc : tensor<1x70xf32>) -> tensor<1x70xf32>
    return %y : tensor<1x70xf32>
  }
}

// -----

// A tensor init (batch 2, one core, 8 lanes: 12 columns are one partial block): the sums start
// from the init's rows, and the rows are a loop.
// CHECK-LABEL: func.func private @matmul_0(
// CHECK-SAME:    %{{.*}}: tensor<2x8xf32>, %{{.*}}: tensor<8x12xf32>, %{{.*}}: tensor<2x12xf32>) -> tensor<2x12xf32>
// CHECK-NOT:     scf.parallel
// CHECK:         scf.for
// CHECK:           vector.load %{{.*}} : memref<24xf32>, vector<8xf32>
// CHECK:           vector.load %{{.*}} : memref<24xf32>, vector<4xf32>
// CHECK:           scf.for {{.*}} -> (vector<8xf32>, vector<4xf32>)
// CHECK-LABEL: func.func @linear_with_init(
// CHECK:         call @matmul_0(%arg0, %arg1, %arg2)
module attributes {sparse3d.target = {cores = 1 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @linear_with_init(%x: tensor<2x8xf32>, %w: tensor<8x12xf32>, %acc: tensor<2x12xf32>) -> tensor<2x12xf32> {
    %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x12xf32>) outs(%acc : tensor<2x12xf32>) -> tensor<2x12xf32>
    return %y : tensor<2x12xf32>
  }
}

// -----

// A constant weight (4 lanes: blocks of 32 columns) is packed at compile time to (blocks, K, 32),
// zeros past column 70, so each block reads one contiguous stream: block b's row k starts at
// b * 256 + k * 32, the tail block's at 512 + k * 32. The (K, N) constant is erased.
// CHECK-LABEL: func.func private @matmul_0_blocks(
// CHECK-SAME:    %{{.*}}: memref<8xf32>, %{{.*}}: memref<768xf32>, %{{.*}}: f32, %{{.*}}: memref<70xf32>, %[[BLOCK:.*]]: index)
// CHECK:         %[[FIRST:.*]] = arith.muli %[[BLOCK]], %c256
// CHECK:         scf.for %[[K:.*]] = %c0 to %c8
// CHECK:           %[[ROW:.*]] = arith.muli %[[K]], %c32
// CHECK:           %[[AT:.*]] = arith.addi %[[FIRST]], %[[ROW]]
// CHECK:           vector.load %{{.*}}[%[[AT]]] : memref<768xf32>, vector<4xf32>
// CHECK-LABEL: func.func private @matmul_0(
// CHECK-SAME:    %{{.*}}: tensor<1x8xf32>, %{{.*}}: tensor<3x8x32xf32>, %{{.*}}: f32) -> tensor<1x70xf32>
// CHECK:         scf.for %[[TK:.*]] = %c0 to %c8
// CHECK:           %[[TROW:.*]] = arith.muli %[[TK]], %c32
// CHECK:           %[[TAT:.*]] = arith.addi %[[TROW]], %c512
// CHECK:           vector.load %{{.*}}[%[[TAT]]] : memref<768xf32>, vector<4xf32>
// CHECK-LABEL: func.func @constant_linear(
// CHECK-NOT:     tensor<8x70xf32>
// CHECK:         %[[W:.*]] = arith.constant dense{{.*}} : tensor<3x8x32xf32>
// CHECK:         call @matmul_0(%arg0, %[[W]], %{{.*}})
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "aarch64-neon", vector_lanes = 4 : i64, vector_registers = 32 : i64}} {
  func.func @constant_linear(%x: tensor<1x8xf32>) -> tensor<1x70xf32> {
    %w = arith.constant dense<0.5> : tensor<8x70xf32>
    %zero = arith.constant 0.0 : f32
    %empty = tensor.empty() : tensor<1x70xf32>
    %acc = linalg.fill ins(%zero : f32) outs(%empty : tensor<1x70xf32>) -> tensor<1x70xf32>
    %y = linalg.matmul ins(%x, %w : tensor<1x8xf32>, tensor<8x70xf32>) outs(%acc : tensor<1x70xf32>) -> tensor<1x70xf32>
    return %y : tensor<1x70xf32>
  }
}

// -----

// Integer and mixed-precision products are left alone (the body would need other arithmetic).
// CHECK-LABEL: func.func @integer_and_mixed_stay
// CHECK-NOT:     call
// CHECK-COUNT-2: linalg.matmul
func.func @integer_and_mixed_stay(%a: tensor<1x8xi32>, %b: tensor<8x4xi32>, %c: tensor<1x4xi32>, %x: tensor<1x8xf16>, %w: tensor<8x4xf16>, %acc: tensor<1x4xf32>) -> (tensor<1x4xi32>, tensor<1x4xf32>) {
  %i = linalg.matmul ins(%a, %b : tensor<1x8xi32>, tensor<8x4xi32>) outs(%c : tensor<1x4xi32>) -> tensor<1x4xi32>
  %f = linalg.matmul ins(%x, %w : tensor<1x8xf16>, tensor<8x4xf16>) outs(%acc : tensor<1x4xf32>) -> tensor<1x4xf32>
  return %i, %f : tensor<1x4xi32>, tensor<1x4xf32>
}
