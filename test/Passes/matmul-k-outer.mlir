// RUN: rt3d-opt %s --matmul-k-outer | filecheck %s

// CHECK-DAG:   #[[LHS:.*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG:   #[[RHS:.*]] = affine_map<(d0, d1, d2) -> (d1, d2)>
// CHECK-DAG:   #[[OUT:.*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-LABEL: func.func @linear
// CHECK-NOT:   linalg.matmul
// CHECK:       linalg.generic {indexing_maps = [#[[LHS]], #[[RHS]], #[[OUT]]], iterator_types = ["parallel", "reduction", "parallel"]}
// CHECK-SAME:  ins(%arg0, %arg1 : tensor<1x8xf32>, tensor<8x4xf32>) outs(%arg2 : tensor<1x4xf32>)
// CHECK:       ^bb0(%[[X:.*]]: f32, %[[W:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK:         %[[P:.*]] = arith.mulf %[[X]], %[[W]] : f32
// CHECK:         %[[S:.*]] = arith.addf %[[ACC]], %[[P]] : f32
// CHECK:         linalg.yield %[[S]] : f32
func.func @linear(%x: tensor<1x8xf32>, %w: tensor<8x4xf32>, %acc: tensor<1x4xf32>) -> tensor<1x4xf32> {
  %y = linalg.matmul ins(%x, %w : tensor<1x8xf32>, tensor<8x4xf32>) outs(%acc : tensor<1x4xf32>) -> tensor<1x4xf32>
  return %y : tensor<1x4xf32>
}

// Integer and mixed-precision products are left alone (the body would need other arithmetic).
// CHECK-LABEL: func.func @integer_and_mixed_stay
// CHECK-COUNT-2: linalg.matmul
func.func @integer_and_mixed_stay(%a: tensor<1x8xi32>, %b: tensor<8x4xi32>, %c: tensor<1x4xi32>, %x: tensor<1x8xf16>, %w: tensor<8x4xf16>, %acc: tensor<1x4xf32>) -> (tensor<1x4xi32>, tensor<1x4xf32>) {
  %i = linalg.matmul ins(%a, %b : tensor<1x8xi32>, tensor<8x4xi32>) outs(%c : tensor<1x4xi32>) -> tensor<1x4xi32>
  %f = linalg.matmul ins(%x, %w : tensor<1x8xf16>, tensor<8x4xf16>) outs(%acc : tensor<1x4xf32>) -> tensor<1x4xf32>
  return %i, %f : tensor<1x4xi32>, tensor<1x4xf32>
}
