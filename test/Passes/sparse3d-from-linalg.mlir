// RUN: rt3d-opt %s --split-input-file --sparse3d-from-linalg=group-shape=1x1 2>/dev/null | filecheck %s
// RUN: rt3d-opt %s --split-input-file --verify-diagnostics --sparse3d-from-linalg=group-shape=1x1 > /dev/null
// RUN: rt3d-opt %s --split-input-file -p 'builtin.module(sparse3d-from-linalg{group-shape=8x4})' 2>/dev/null | filecheck %s --check-prefix=GROUP84
// RUN: not rt3d-opt %s --sparse3d-from-linalg=group-shape=8 2>&1 | filecheck %s --check-prefix=BADOPT
// RUN: not rt3d-opt %s --sparse3d-from-linalg=tile=8 2>&1 | filecheck %s --check-prefix=BADKEY

// BADOPT: rt3d-opt: error: pass 'sparse3d-from-linalg': option 'group-shape': group shape must look like 8x4 (filters x channels), got '8'
// BADKEY: rt3d-opt: error: pass 'sparse3d-from-linalg' has no option 'tile' (its options: group-shape, candidates)

// Group (filter 0) keeps kernel position 0 only; group (filter 1) is all zero (vanilla-pruned).
// As one 8x4 group (a tail group of 2 filters x 1 channel) it keeps position 0 with two values.
// CHECK-LABEL: func.func @kgs_and_vanilla
// CHECK-NOT:   linalg.conv_3d_ncdhw_fcdhw
// CHECK:       %[[VALUES:.*]] = arith.constant dense_resource<[[BLOB:kgs_values_[0-9]+]]> : tensor<1xf32>
// CHECK:       %[[OFFSETS:.*]] = arith.constant dense<[0, 1, 1]> : tensor<3xi64>
// CHECK:       %[[POSITIONS:.*]] = arith.constant dense<0> : tensor<1xi64>
// CHECK:       "sparse3d.kgs_conv3d"(%arg0, %[[VALUES]], %[[OFFSETS]], %[[POSITIONS]], %arg1)
// CHECK-SAME:  group_shape = array<i64: 1, 1>, kernel_size = array<i64: 1, 1, 2>
// CHECK-SAME:  padding = array<i64: 0, 0, 0, 0, 0, 0>, strides = array<i64: 1, 1, 1>
// CHECK:       [[BLOB]]: "0x040000000000803F"
// GROUP84-LABEL: func.func @kgs_and_vanilla
// GROUP84:       arith.constant dense_resource<{{.*}}> : tensor<2xf32>
// GROUP84:       arith.constant dense<[0, 1]> : tensor<2xi64>
// GROUP84:       arith.constant dense<0> : tensor<1xi64>
// GROUP84:       group_shape = array<i64: 8, 4>
func.func @kgs_and_vanilla(%in: tensor<1x1x2x2x3xf32>, %init: tensor<1x2x2x2x2xf32>) -> tensor<1x2x2x2x2xf32> {
  %filter = arith.constant dense<[[[[[1.0, 0.0]]]], [[[[0.0, 0.0]]]]]> : tensor<2x1x1x1x2xf32>
  // expected-remark @+1 {{2x1x1x1x2 filter as 1x1 kernel groups: 25.0% of MACs kept (4.00x fewer)}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<1x1x2x2x3xf32>, tensor<2x1x1x1x2xf32>) outs(%init : tensor<1x2x2x2x2xf32>) -> tensor<1x2x2x2x2xf32>
  return %0 : tensor<1x2x2x2x2xf32>
}

// -----

// A fully pruned filter (every weight zero) keeps no MACs: the remark says so instead of a huge rate.
func.func @all_pruned(%in: tensor<1x1x2x2x3xf32>, %init: tensor<1x2x2x2x2xf32>) -> tensor<1x2x2x2x2xf32> {
  %filter = arith.constant dense<0.0> : tensor<2x1x1x1x2xf32>
  // expected-remark @+1 {{2x1x1x1x2 filter as 1x1 kernel groups: 0.0% of MACs kept (all pruned)}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<1x1x2x2x3xf32>, tensor<2x1x1x1x2xf32>) outs(%init : tensor<1x2x2x2x2xf32>) -> tensor<1x2x2x2x2xf32>
  return %0 : tensor<1x2x2x2x2xf32>
}

// -----

// A zero tensor.pad of D, H, W folds into the op's padding; strides and dilations carry over.
// CHECK-LABEL: func.func @zero_pad_folds
// CHECK-NOT:   tensor.pad
// CHECK:       "sparse3d.kgs_conv3d"(%arg0,
// CHECK-SAME:  dilations = array<i64: 1, 2, 1>
// CHECK-SAME:  padding = array<i64: 1, 2, 0, 1, 2, 0>, strides = array<i64: 2, 1, 1>
// CHECK-SAME:  (tensor<1x1x3x4x4xf32>,
func.func @zero_pad_folds(%in: tensor<1x1x3x4x4xf32>, %init: tensor<1x1x2x4x4xf32>) -> tensor<1x1x2x4x4xf32> {
  %zero = arith.constant 0.0 : f32
  %padded = tensor.pad %in low[0, 0, 1, 2, 0] high[0, 0, 1, 2, 0] {
  ^bb0(%a: index, %b: index, %c: index, %d: index, %e: index):
    tensor.yield %zero : f32
  } : tensor<1x1x3x4x4xf32> to tensor<1x1x5x8x4xf32>
  %filter = arith.constant dense<2.0> : tensor<1x1x3x3x1xf32>
  // expected-remark @+1 {{1x1x3x3x1 filter as 1x1 kernel groups: 100.0% of MACs kept (1.00x fewer)}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<[1, 2, 1]> : vector<3xi64>, strides = dense<[2, 1, 1]> : vector<3xi64>} ins(%padded, %filter : tensor<1x1x5x8x4xf32>, tensor<1x1x3x3x1xf32>) outs(%init : tensor<1x1x2x4x4xf32>) -> tensor<1x1x2x4x4xf32>
  return %0 : tensor<1x1x2x4x4xf32>
}

// -----

// Padding with a non-zero value is not the op's zero padding: the pad stays.
// CHECK-LABEL: func.func @nonzero_pad_stays
// CHECK:       %[[PADDED:.*]] = tensor.pad
// CHECK:       "sparse3d.kgs_conv3d"(%[[PADDED]],
// CHECK-SAME:  padding = array<i64: 0, 0, 0, 0, 0, 0>
func.func @nonzero_pad_stays(%in: tensor<1x1x2x2x2xf32>, %init: tensor<1x1x2x2x2xf32>) -> tensor<1x1x2x2x2xf32> {
  %one = arith.constant 1.0 : f32
  %padded = tensor.pad %in low[0, 0, 1, 1, 1] high[0, 0, 1, 1, 1] {
  ^bb0(%a: index, %b: index, %c: index, %d: index, %e: index):
    tensor.yield %one : f32
  } : tensor<1x1x2x2x2xf32> to tensor<1x1x4x4x4xf32>
  %filter = arith.constant dense<1.0> : tensor<1x1x3x3x3xf32>
  // expected-remark @+1 {{1x1x3x3x3 filter as 1x1 kernel groups: 100.0% of MACs kept}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%padded, %filter : tensor<1x1x4x4x4xf32>, tensor<1x1x3x3x3xf32>) outs(%init : tensor<1x1x2x2x2xf32>) -> tensor<1x1x2x2x2xf32>
  return %0 : tensor<1x1x2x2x2xf32>
}

// -----

// A kgs-row filter: the one kept (kd, kh) row holds all three kw taps, so the remark names w (the
// kept taps along h or d are not whole rows).
// CHECK-LABEL: func.func @whole_rows_along_w
// CHECK:       "sparse3d.kgs_conv3d"
func.func @whole_rows_along_w(%in: tensor<1x1x3x3x3xf32>, %init: tensor<1x1x1x1x1xf32>) -> tensor<1x1x1x1x1xf32> {
  %filter = arith.constant dense<[[[[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]]]]> : tensor<1x1x3x3x3xf32>
  // expected-remark @+1 {{1x1x3x3x3 filter as 1x1 kernel groups: 11.1% of MACs kept (9.00x fewer); its kept positions are whole kernel rows along w (Winograd can take them)}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<1x1x3x3x3xf32>, tensor<1x1x3x3x3xf32>) outs(%init : tensor<1x1x1x1x1xf32>) -> tensor<1x1x1x1x1xf32>
  return %0 : tensor<1x1x1x1x1xf32>
}

// -----

// Shapes or types the op cannot hold: left alone, with a remark.
// CHECK-LABEL: func.func @dynamic_batch
// CHECK:       linalg.conv_3d_ncdhw_fcdhw
func.func @dynamic_batch(%in: tensor<?x1x2x2x2xf32>, %init: tensor<?x1x2x2x2xf32>) -> tensor<?x1x2x2x2xf32> {
  %filter = arith.constant dense<1.0> : tensor<1x1x1x1x1xf32>
  // expected-remark @+1 {{not converted to sparse3d.kgs_conv3d: it has dynamic shapes}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<?x1x2x2x2xf32>, tensor<1x1x1x1x1xf32>) outs(%init : tensor<?x1x2x2x2xf32>) -> tensor<?x1x2x2x2xf32>
  return %0 : tensor<?x1x2x2x2xf32>
}
// CHECK-LABEL: func.func @mixed_precision
// CHECK:       linalg.conv_3d_ncdhw_fcdhw
func.func @mixed_precision(%in: tensor<1x1x2x2x2xf16>, %init: tensor<1x1x2x2x2xf32>) -> tensor<1x1x2x2x2xf32> {
  %filter = arith.constant dense<1.0> : tensor<1x1x1x1x1xf16>
  // expected-remark @+1 {{not converted to sparse3d.kgs_conv3d: input, filter and init must share one float type, got f16, f32}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<1x1x2x2x2xf16>, tensor<1x1x1x1x1xf16>) outs(%init : tensor<1x1x2x2x2xf32>) -> tensor<1x1x2x2x2xf32>
  return %0 : tensor<1x1x2x2x2xf32>
}
// CHECK-LABEL: func.func @bf16_filter
// CHECK:       linalg.conv_3d_ncdhw_fcdhw
func.func @bf16_filter(%in: tensor<1x1x2x2x2xbf16>, %init: tensor<1x1x2x2x2xbf16>) -> tensor<1x1x2x2x2xbf16> {
  %filter = arith.constant dense<1.0> : tensor<1x1x1x1x1xbf16>
  // expected-remark @+1 {{not converted to sparse3d.kgs_conv3d: the filter is a constant numpy cannot read}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<1x1x2x2x2xbf16>, tensor<1x1x1x1x1xbf16>) outs(%init : tensor<1x1x2x2x2xbf16>) -> tensor<1x1x2x2x2xbf16>
  return %0 : tensor<1x1x2x2x2xbf16>
}

// -----

// A filter that is not a constant cannot be compacted: the conv is left alone, with a remark.
// CHECK-LABEL: func.func @runtime_filter
// CHECK:       linalg.conv_3d_ncdhw_fcdhw
// CHECK-NOT:   sparse3d.kgs_conv3d
func.func @runtime_filter(%in: tensor<1x1x2x2x2xf32>, %filter: tensor<1x1x1x1x1xf32>, %init: tensor<1x1x2x2x2xf32>) -> tensor<1x1x2x2x2xf32> {
  // expected-remark @+1 {{not converted to sparse3d.kgs_conv3d: the filter is not a constant (it comes from a block argument)}}
  %0 = linalg.conv_3d_ncdhw_fcdhw {dilations = dense<1> : vector<3xi64>, strides = dense<1> : vector<3xi64>} ins(%in, %filter : tensor<1x1x2x2x2xf32>, tensor<1x1x1x1x1xf32>) outs(%init : tensor<1x1x2x2x2xf32>) -> tensor<1x1x2x2x2xf32>
  return %0 : tensor<1x1x2x2x2xf32>
}
