// RUN: rt3d-opt %s --split-input-file --sparse3d-winograd 2>&1 | filecheck %s

// -----

// F(4, 3) along W on a conv with a bias and a ReLU: one input transform with six results, one
// channel plane per iteration of an scf.forall: the plane padded along W (8 + 2 columns) and by the
// conv's padding along H (3 + 2 rows) there, six strided slices of it (one per tile offset) into one
// linalg.generic; one 3x3x1 KGS conv per tap (padding kept on D only: the kernels read such an input in place),
// then the output transform, one filter plane per iteration: it reads the
// six taps and that filter's bias once per tile and writes the tile's four outputs (ReLU applied)
// into four strided views of the W = 8 result.
// CHECK-LABEL: func.func @w4_bias_relu
// CHECK-NOT:   linalg.broadcast
// CHECK-NOT:   tensor.insert_slice
// CHECK:       %[[TAPS:.*]]:6 = scf.forall (%[[C:.*]]) in (4) shared_outs(
// CHECK-COUNT-6:   tensor.extract_slice %{{.*}}[0, %[[C]], 0, 0, 0] [1, 1, 2, 5, 2] [1, 1, 1, 1, 1] : tensor<1x4x2x5x2xf32> to tensor<1x1x2x5x2xf32>
// CHECK:           %[[PLANE:.*]] = tensor.extract_slice %arg0[0, %[[C]], 0, 0, 0] [1, 1, 2, 3, 8] [1, 1, 1, 1, 1] : tensor<1x4x2x3x8xf32> to tensor<1x1x2x3x8xf32>
// CHECK:           %[[PADDED:.*]] = tensor.insert_slice %[[PLANE]] into %{{.*}}[0, 0, 0, 1, 1] [1, 1, 2, 3, 8] [1, 1, 1, 1, 1] : tensor<1x1x2x3x8xf32> into tensor<1x1x2x5x10xf32>
// CHECK-COUNT-6:   tensor.extract_slice %[[PADDED]][0, 0, 0, 0, {{[0-5]}}] [1, 1, 2, 5, 2] [1, 1, 1, 1, 4]
// CHECK:           linalg.generic
// CHECK:           } -> (tensor<1x1x2x5x2xf32>, tensor<1x1x2x5x2xf32>, tensor<1x1x2x5x2xf32>, tensor<1x1x2x5x2xf32>, tensor<1x1x2x5x2xf32>, tensor<1x1x2x5x2xf32>)
// CHECK-COUNT-6:   tensor.parallel_insert_slice %{{.*}}[0, %[[C]], 0, 0, 0] [1, 1, 2, 5, 2] [1, 1, 1, 1, 1] : tensor<1x1x2x5x2xf32> into tensor<1x4x2x5x2xf32>
// CHECK-COUNT-6: "sparse3d.kgs_conv3d"(%[[TAPS]]#{{[0-5]}}, {{.*}}kernel_size = array<i64: 3, 3, 1>, padding = array<i64: 1, 0, 0, 1, 0, 0>{{.*}} -> tensor<1x8x2x3x2xf32>
// CHECK:       %[[RESULT:.*]] = scf.forall (%[[F:.*]]) in (8) shared_outs(%[[SHARED:.*]] = %{{.*}}) -> (tensor<1x8x2x3x8xf32>)
// CHECK-COUNT-4:   tensor.extract_slice %[[SHARED]][0, %[[F]], 0, 0, {{[0-3]}}] [1, 1, 2, 3, 2] [1, 1, 1, 1, 4]
// CHECK:           tensor.extract_slice %arg1[%[[F]]] [1] [1] : tensor<8xf32> to tensor<1xf32>
// CHECK:           linalg.generic
// CHECK-COUNT-4:     arith.maximumf
// CHECK:           } -> (tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>, tensor<1x1x2x3x2xf32>)
// CHECK-COUNT-4:   tensor.parallel_insert_slice %{{.*}} into %[[SHARED]][0, %[[F]], 0, 0, {{[0-3]}}] [1, 1, 2, 3, 2] [1, 1, 1, 1, 4]
// CHECK:       return %[[RESULT]]
module {
  func.func @w4_bias_relu(%in: tensor<1x4x2x3x8xf32>, %b: tensor<8xf32>) -> tensor<1x8x2x3x8xf32> {
    %e = tensor.empty() : tensor<1x8x2x3x8xf32>
    %init = linalg.broadcast ins(%b : tensor<8xf32>) outs(%e : tensor<1x8x2x3x8xf32>) dimensions = [0, 2, 3, 4]
    %values = arith.constant dense<0.5> : tensor<864xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi8>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, activation = "relu", algorithm = "winograd<w, 4>"} : (tensor<1x4x2x3x8xf32>, tensor<864xf32>, tensor<2xi8>, tensor<27xi8>, tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    return %0 : tensor<1x8x2x3x8xf32>
  }
}

// -----

// W = 6 is not a multiple of the tile: 2 tiles compute 8 columns, the first 6 are kept, and the
// epilogue (the fill's scalar, no activation) is applied after the crop.
// CHECK-LABEL: func.func @w4_tail
// CHECK:       tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 1, 1] [1, 1, 2, 3, 6] [1, 1, 1, 1, 1] : tensor<1x1x2x3x6xf32> into tensor<1x1x2x5x10xf32>
// CHECK-COUNT-6: "sparse3d.kgs_conv3d"
// CHECK:       %[[FULL:.*]] = scf.forall {{.*}} -> (tensor<1x8x2x3x8xf32>)
// CHECK:       %[[CROP:.*]] = tensor.extract_slice %[[FULL]][0, 0, 0, 0, 0] [1, 8, 2, 3, 6] [1, 1, 1, 1, 1]
// CHECK:       %[[DONE:.*]] = linalg.generic {{.*}} ins(%[[CROP]] : tensor<1x8x2x3x6xf32>)
// CHECK-NOT:     arith.maximumf
// CHECK:       return %[[DONE]]
module {
  func.func @w4_tail(%in: tensor<1x4x2x3x6xf32>) -> tensor<1x8x2x3x6xf32> {
    %e = tensor.empty() : tensor<1x8x2x3x6xf32>
    %zero = arith.constant 0.0 : f32
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x2x3x6xf32>) -> tensor<1x8x2x3x6xf32>
    %values = arith.constant dense<0.5> : tensor<864xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi8>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<w, 4>"} : (tensor<1x4x2x3x6xf32>, tensor<864xf32>, tensor<2xi8>, tensor<27xi8>, tensor<1x8x2x3x6xf32>) -> tensor<1x8x2x3x6xf32>
    return %0 : tensor<1x8x2x3x6xf32>
  }
}

// -----

// F(2x2, 3x3) on H x W: each plane padded along both in the first transform (along H), then
// transformed along W (4 + 4 x 4 = 20 results in 5 foralls), 16 per-tap convs with a 3x1x1 kernel,
// 4 + 1 output transforms.
// CHECK-LABEL: func.func @hw2
// CHECK:       scf.forall (%{{.*}}) in (4)
// CHECK:         tensor.insert_slice %{{.*}} into %{{.*}}[0, 0, 0, 1, 1] [1, 1, 2, 4, 4] [1, 1, 1, 1, 1] : tensor<1x1x2x4x4xf32> into tensor<1x1x2x6x6xf32>
// CHECK-NOT:     tensor.insert_slice
// CHECK-COUNT-16: "sparse3d.kgs_conv3d"({{.*}}kernel_size = array<i64: 3, 1, 1>, padding = array<i64: 1, 0, 0, 1, 0, 0>{{.*}} -> tensor<1x8x2x2x2xf32>
// CHECK-COUNT-4: scf.forall (%{{.*}}) in (8) {{.*}} -> (tensor<1x8x2x2x4xf32>)
// CHECK:       scf.forall (%{{.*}}) in (8) {{.*}} -> (tensor<1x8x2x4x4xf32>)
// CHECK-COUNT-2: arith.maximumf
// CHECK-NOT:   sparse3d.kgs_conv3d
module {
  func.func @hw2(%in: tensor<1x4x2x4x4xf32>) -> tensor<1x8x2x4x4xf32> {
    %e = tensor.empty() : tensor<1x8x2x4x4xf32>
    %zero = arith.constant 0.0 : f32
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x2x4x4xf32>) -> tensor<1x8x2x4x4xf32>
    %values = arith.constant dense<0.5> : tensor<864xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi8>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, activation = "relu", algorithm = "winograd<hw, 2>"} : (tensor<1x4x2x4x4xf32>, tensor<864xf32>, tensor<2xi8>, tensor<27xi8>, tensor<1x8x2x4x4xf32>) -> tensor<1x8x2x4x4xf32>
    return %0 : tensor<1x8x2x4x4xf32>
  }
}

// -----

// algorithm = "direct" is left alone.
// CHECK-LABEL: func.func @direct
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-SAME:  algorithm = "direct"
// CHECK-NOT:   sparse3d.kgs_conv3d
module {
  func.func @direct(%in: tensor<1x4x2x3x8xf32>) -> tensor<1x8x2x3x8xf32> {
    %e = tensor.empty() : tensor<1x8x2x3x8xf32>
    %zero = arith.constant 0.0 : f32
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    %values = arith.constant dense<0.5> : tensor<864xf32>
    %offsets = arith.constant dense<[0, 27]> : tensor<2xi8>
    %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26]> : tensor<27xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "direct"} : (tensor<1x4x2x3x8xf32>, tensor<864xf32>, tensor<2xi8>, tensor<27xi8>, tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    return %0 : tensor<1x8x2x3x8xf32>
  }
}

// -----

// Rows of 3, 1 and 2 kept taps along W (positions 0-2, 13 and 24-25): F(4, 3) takes the rows
// with 2 or 3 taps (at most two positions in each 3x3x1 per-tap conv: with every weight 0.5, the
// row 24-25 transforms to exact zeros at the points -1 and infinity, which compaction drops), and
// one direct 3x3x3 conv keeps the single tap (13), starts from the output transform's result and
// applies the ReLU, which the output transform therefore leaves out.
// CHECK-LABEL: func.func @w4_remainder_relu
// CHECK-COUNT-6: "sparse3d.kgs_conv3d"({{.*}} : (tensor<1x4x2x5x2xf32>, tensor<{{64|32}}xf32>, tensor<2xi8>, tensor<{{2|1}}xi8>, tensor<1x8x2x3x2xf32>)
// CHECK:       %[[SUMS:.*]] = scf.forall {{.*}} -> (tensor<1x8x2x3x8xf32>)
// CHECK-NOT:     arith.maximumf
// CHECK:       %[[POSITIONS:.*]] = arith.constant dense<13> : tensor<1xi8>
// CHECK:       %[[RESULT:.*]] = "sparse3d.kgs_conv3d"(%arg0, %{{.*}}, %{{.*}}, %[[POSITIONS]], %[[SUMS]])
// CHECK-SAME:    activation = "relu"
// CHECK-SAME:    kernel_size = array<i64: 3, 3, 3>, padding = array<i64: 1, 1, 1, 1, 1, 1>
// CHECK-SAME:    (tensor<1x4x2x3x8xf32>, tensor<32xf32>, tensor<2xi8>, tensor<1xi8>, tensor<1x8x2x3x8xf32>)
// CHECK:       return %[[RESULT]]
module {
  func.func @w4_remainder_relu(%in: tensor<1x4x2x3x8xf32>) -> tensor<1x8x2x3x8xf32> {
    %e = tensor.empty() : tensor<1x8x2x3x8xf32>
    %zero = arith.constant 0.0 : f32
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    %values = arith.constant dense<0.5> : tensor<192xf32>
    %offsets = arith.constant dense<[0, 6]> : tensor<2xi8>
    %positions = arith.constant dense<[0, 1, 2, 13, 24, 25]> : tensor<6xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, activation = "relu", algorithm = "winograd<w, 4>"} : (tensor<1x4x2x3x8xf32>, tensor<192xf32>, tensor<2xi8>, tensor<6xi8>, tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    return %0 : tensor<1x8x2x3x8xf32>
  }
}

// -----

// F(2, 3) takes only whole rows: with two taps per row it takes none, and the conv runs direct.
// CHECK-LABEL: func.func @w2_no_whole_row
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-NOT:   algorithm
// CHECK-NOT:   linalg.generic
// CHECK:       return
module {
  func.func @w2_no_whole_row(%in: tensor<1x4x2x3x8xf32>) -> tensor<1x8x2x3x8xf32> {
    %e = tensor.empty() : tensor<1x8x2x3x8xf32>
    %zero = arith.constant 0.0 : f32
    %init = linalg.fill ins(%zero : f32) outs(%e : tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    %values = arith.constant dense<0.5> : tensor<128xf32>
    %offsets = arith.constant dense<[0, 4]> : tensor<2xi8>
    %positions = arith.constant dense<[0, 1, 24, 25]> : tensor<4xi8>
    %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 8, 4>, kernel_size = array<i64: 3, 3, 3>, strides = array<i64: 1, 1, 1>, padding = array<i64: 1, 1, 1, 1, 1, 1>, dilations = array<i64: 1, 1, 1>, algorithm = "winograd<w, 2>"} : (tensor<1x4x2x3x8xf32>, tensor<128xf32>, tensor<2xi8>, tensor<4xi8>, tensor<1x8x2x3x8xf32>) -> tensor<1x8x2x3x8xf32>
    return %0 : tensor<1x8x2x3x8xf32>
  }
}
