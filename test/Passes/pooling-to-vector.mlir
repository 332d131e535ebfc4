// RUN: rt3d-opt %s --split-input-file --pooling-to-vector | filecheck %s

// MaxPool3d(kernel (1, 2, 2), stride (1, 2, 2)) on rows of 20: per window row one load of
// 16 inputs gives 8 outputs' two taps (even and odd lanes); the tail of 2 outputs loads 4.
// The rows of one (N*C, D) plane are an outlined function; on one core the planes are plain loops.
// The fill init is passed as its scalar and, read by nothing else, erased.
// CHECK-LABEL: func.func private @pool3d_0_rows
// CHECK-SAME:  (%{{.*}}: memref<480xf32>, %{{.*}}: f32, %{{.*}}: memref<120xf32>, %{{.*}}: index, %{{.*}}: index)
// CHECK:       scf.for
// CHECK:       vector.load {{.*}} vector<16xf32>
// CHECK:       vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xf32>, vector<16xf32>
// CHECK:       vector.shuffle {{.*}} [1, 3, 5, 7, 9, 11, 13, 15] : vector<16xf32>, vector<16xf32>
// CHECK:       arith.maximumf {{.*}} : vector<8xf32>
// CHECK:       vector.load {{.*}} vector<4xf32>
// CHECK:       arith.maximumf {{.*}} : vector<2xf32>
// CHECK-LABEL: func.func private @pool3d_0(
// CHECK-SAME:  %{{.*}}: tensor<1x3x2x4x20xf32>, %{{.*}}: f32) -> tensor<1x3x2x2x10xf32>
// CHECK-NOT:   scf.parallel
// CHECK:       scf.for
// CHECK:       call @pool3d_0_rows
// CHECK-LABEL: func.func @max_pool
// CHECK-NOT:   linalg.fill
// CHECK:       %[[Y:.*]] = call @pool3d_0(%arg0, %{{.*}})
// CHECK-NEXT:  return %[[Y]]
module attributes {sparse3d.target = {cores = 1 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @max_pool(%x: tensor<1x3x2x4x20xf32>) -> tensor<1x3x2x2x10xf32> {
    %neg_inf = arith.constant 0xFF800000 : f32
    %empty = tensor.empty() : tensor<1x3x2x2x10xf32>
    %init = linalg.fill ins(%neg_inf : f32) outs(%empty : tensor<1x3x2x2x10xf32>) -> tensor<1x3x2x2x10xf32>
    %window = tensor.empty() : tensor<1x2x2xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2 + d5, d3 * 2 + d6, d4 * 2 + d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d5, d6, d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%x, %window : tensor<1x3x2x4x20xf32>, tensor<1x2x2xf32>) outs(%init : tensor<1x3x2x2x10xf32>) {
    ^bb0(%in: f32, %w: f32, %out: f32):
      %m = arith.maximumf %in, %out : f32
      linalg.yield %m : f32
    } -> tensor<1x3x2x2x10xf32>
    return %y : tensor<1x3x2x2x10xf32>
  }
}

// -----

// Not a pooling: the body multiplies. Left alone.
// CHECK-LABEL: func.func @not_a_pool
// CHECK-NOT:   call
// CHECK:       linalg.generic
func.func @not_a_pool(%x: tensor<1x3x2x4x20xf32>, %init: tensor<1x3x2x2x10xf32>) -> tensor<1x3x2x2x10xf32> {
  %window = tensor.empty() : tensor<1x2x2xf32>
  %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2 + d5, d3 * 2 + d6, d4 * 2 + d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d5, d6, d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%x, %window : tensor<1x3x2x4x20xf32>, tensor<1x2x2xf32>) outs(%init : tensor<1x3x2x2x10xf32>) {
  ^bb0(%in: f32, %w: f32, %out: f32):
    %m = arith.mulf %in, %out : f32
    linalg.yield %m : f32
  } -> tensor<1x3x2x2x10xf32>
  return %y : tensor<1x3x2x2x10xf32>
}

// -----

// A sum pooling (arith.addf) into a tensor init (not a fill): the init is passed as a tensor
// and the taps are added in vectors. torch's AvgPool3d does not import in this form (see
// docs/cpu-codegen.md); this covers the combiner the pass accepts besides max.
// CHECK-LABEL: func.func private @pool3d_0_rows
// CHECK:       vector.shuffle {{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xf32>, vector<16xf32>
// CHECK:       arith.addf {{.*}} : vector<8xf32>
// CHECK-NOT:   arith.maximumf
// CHECK-LABEL: func.func private @pool3d_0(
// CHECK-SAME:  %{{.*}}: tensor<1x3x2x4x20xf32>, %{{.*}}: tensor<1x3x2x2x10xf32>) -> tensor<1x3x2x2x10xf32>
// CHECK-LABEL: func.func @sum_pool
// CHECK:       call @pool3d_0(%arg0, %arg1)
module attributes {sparse3d.target = {cores = 1 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @sum_pool(%x: tensor<1x3x2x4x20xf32>, %init: tensor<1x3x2x2x10xf32>) -> tensor<1x3x2x2x10xf32> {
    %window = tensor.empty() : tensor<1x2x2xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2 + d5, d3 * 2 + d6, d4 * 2 + d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d5, d6, d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%x, %window : tensor<1x3x2x4x20xf32>, tensor<1x2x2xf32>) outs(%init : tensor<1x3x2x2x10xf32>) {
    ^bb0(%in: f32, %w: f32, %out: f32):
      %s = arith.addf %in, %out : f32
      linalg.yield %s : f32
    } -> tensor<1x3x2x2x10xf32>
    return %y : tensor<1x3x2x2x10xf32>
  }
}

// -----

// With two cores the (N*C, D) = (3, 2) planes are one scf.parallel (OpenMP on the host).
// CHECK-LABEL: func.func private @pool3d_0(
// CHECK:       scf.parallel (%{{.*}}, %{{.*}}) = (%{{.*}}, %{{.*}}) to (%c3, %c2)
// CHECK-NEXT:  func.call @pool3d_0_rows
module attributes {sparse3d.target = {cores = 2 : i64, l1_bytes = 32768 : i64, name = "host-avx2", vector_lanes = 8 : i64, vector_registers = 16 : i64}} {
  func.func @max_pool(%x: tensor<1x3x2x4x20xf32>) -> tensor<1x3x2x2x10xf32> {
    %neg_inf = arith.constant 0xFF800000 : f32
    %empty = tensor.empty() : tensor<1x3x2x2x10xf32>
    %init = linalg.fill ins(%neg_inf : f32) outs(%empty : tensor<1x3x2x2x10xf32>) -> tensor<1x3x2x2x10xf32>
    %window = tensor.empty() : tensor<1x2x2xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2 + d5, d3 * 2 + d6, d4 * 2 + d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d5, d6, d7)>, affine_map<(d0, d1, d2, d3, d4, d5, d6, d7) -> (d0, d1, d2, d3, d4)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%x, %window : tensor<1x3x2x4x20xf32>, tensor<1x2x2xf32>) outs(%init : tensor<1x3x2x2x10xf32>) {
    ^bb0(%in: f32, %w: f32, %out: f32):
      %m = arith.maximumf %in, %out : f32
      linalg.yield %m : f32
    } -> tensor<1x3x2x2x10xf32>
    return %y : tensor<1x3x2x2x10xf32>
  }
}

