// RUN: rt3d-opt %s --split-input-file --sparse3d-fuse-epilogue | filecheck %s

#id = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>

// relu(conv + bias + residual), as torch-mlir imports a residual block: the residual joins
// the bias in the init (the kernel reads both), the ReLU becomes the activation.
// CHECK-LABEL: func.func @residual_relu
// CHECK:       %[[BIAS:.*]] = linalg.broadcast
// CHECK:       %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[BIAS]], %arg1 : {{.*}})
// CHECK:         arith.addf
// CHECK:       %[[Y:.*]] = "sparse3d.kgs_conv3d"(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, %[[INIT]])
// CHECK-SAME:  activation = "relu"
// CHECK-NEXT:  return %[[Y]]
func.func @residual_relu(%x: tensor<1x4x1x2x8xf32>, %residual: tensor<1x8x1x2x8xf32>, %b: tensor<8xf32>) -> tensor<1x8x1x2x8xf32> {
  %zero = arith.constant 0.0 : f32
  %values = arith.constant dense<1.0> : tensor<32xf32>
  %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
  %positions = arith.constant dense<0> : tensor<1xi64>
  %empty = tensor.empty() : tensor<1x8x1x2x8xf32>
  %bias = linalg.broadcast ins(%b : tensor<8xf32>) outs(%empty : tensor<1x8x1x2x8xf32>) dimensions = [0, 2, 3, 4]
  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %bias) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x2x8xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x2x8xf32>) -> tensor<1x8x1x2x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%y, %residual : tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>) outs(%empty : tensor<1x8x1x2x8xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %s = arith.addf %a, %r : f32
    linalg.yield %s : f32
  } -> tensor<1x8x1x2x8xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%sum : tensor<1x8x1x2x8xf32>) outs(%empty : tensor<1x8x1x2x8xf32>) {
  ^bb0(%in: f32, %o: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %r = arith.select %c, %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x8x1x2x8xf32>
  return %relu : tensor<1x8x1x2x8xf32>
}

// -----

#id = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>

// The conv result has a second use: the ReLU cannot take over the result, nothing is fused.
// A ReLU written with arith.maximumf is recognised too (second conv). A residual computed
// after the conv (third conv): the conv moves down past it, to the add, and takes it in.
// CHECK-LABEL: func.func @partly_fusable
// CHECK:       %[[Y:.*]] = "sparse3d.kgs_conv3d"
// CHECK-NOT:   activation
// CHECK-SAME:  -> tensor<1x8x1x2x8xf32>
// CHECK:       linalg.generic {{.*}} ins(%[[Y]] :
// CHECK:       "sparse3d.kgs_conv3d"{{.*}}activation = "relu"
// CHECK:       %[[LATE:.*]] = arith.negf
// CHECK:       %[[INIT:.*]] = linalg.generic {{.*}} ins(%arg1, %[[LATE]] :
// CHECK:       %[[SUM:.*]] = "sparse3d.kgs_conv3d"(%arg0, %{{.*}}, %{{.*}}, %{{.*}}, %[[INIT]])
// CHECK-NOT:   linalg.generic
// CHECK:       return %{{.*}}, %{{.*}}, %{{.*}}, %[[SUM]]
func.func @partly_fusable(%x: tensor<1x4x1x2x8xf32>, %init: tensor<1x8x1x2x8xf32>) -> (tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>) {
  %zero = arith.constant 0.0 : f32
  %values = arith.constant dense<1.0> : tensor<32xf32>
  %offsets = arith.constant dense<[0, 1]> : tensor<2xi64>
  %positions = arith.constant dense<0> : tensor<1xi64>
  %empty = tensor.empty() : tensor<1x8x1x2x8xf32>
  %y = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x2x8xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x2x8xf32>) -> tensor<1x8x1x2x8xf32>
  %relu = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%y : tensor<1x8x1x2x8xf32>) outs(%empty : tensor<1x8x1x2x8xf32>) {
  ^bb0(%in: f32, %o: f32):
    %c = arith.cmpf ugt, %in, %zero : f32
    %r = arith.select %c, %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x8x1x2x8xf32>
  %y2 = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x2x8xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x2x8xf32>) -> tensor<1x8x1x2x8xf32>
  %relu2 = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%y2 : tensor<1x8x1x2x8xf32>) outs(%empty : tensor<1x8x1x2x8xf32>) {
  ^bb0(%in: f32, %o: f32):
    %r = arith.maximumf %in, %zero : f32
    linalg.yield %r : f32
  } -> tensor<1x8x1x2x8xf32>
  %y3 = "sparse3d.kgs_conv3d"(%x, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x4x1x2x8xf32>, tensor<32xf32>, tensor<2xi64>, tensor<1xi64>, tensor<1x8x1x2x8xf32>) -> tensor<1x8x1x2x8xf32>
  %late = arith.negf %relu2 : tensor<1x8x1x2x8xf32>
  %sum = linalg.generic {indexing_maps = [#id, #id, #id], iterator_types = ["parallel", "parallel", "parallel", "parallel", "parallel"]} ins(%y3, %late : tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>) outs(%empty : tensor<1x8x1x2x8xf32>) {
  ^bb0(%a: f32, %r: f32, %o: f32):
    %s = arith.addf %a, %r : f32
    linalg.yield %s : f32
  } -> tensor<1x8x1x2x8xf32>
  return %y, %relu, %relu2, %sum : tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>, tensor<1x8x1x2x8xf32>
}
