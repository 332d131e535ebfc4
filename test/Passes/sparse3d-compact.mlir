// RUN: rt3d-opt %s --split-input-file --sparse3d-compact | filecheck %s
// RUN: rt3d-opt %s --split-input-file --sparse3d-compact='reorder=never narrow=false' | filecheck %s --check-prefix=OFF
// RUN: not rt3d-opt %s --sparse3d-compact=reorder=sometimes 2>&1 | filecheck %s --check-prefix=BADMODE

// BADMODE: error: pass 'sparse3d-compact': option 'reorder' takes one of auto, always, never, got 'sometimes'

// Filters 1 and 3 are zero, 0 and 2 are not: in their order both 2-filter blocks keep
// the one position; regrouped ([0, 2] then [1, 3]) the second block is empty, so half the
// weights go, and the permutation says where each compact filter's outputs go.
// The tables narrow to i8.
// CHECK-LABEL: func.func @filter_pruned
// CHECK-DAG:   %[[V:.*]] = arith.constant dense_resource<kgs_compact_values_{{[0-9]+}}> : tensor<4xf32>
// CHECK-DAG:   %[[O:.*]] = arith.constant dense<[0, 1, 1]> : tensor<3xi8>
// CHECK-DAG:   %[[P:.*]] = arith.constant dense<0> : tensor<1xi8>
// CHECK:       "sparse3d.kgs_conv3d"(%arg0, %[[V]], %[[O]], %[[P]], %arg1)
// CHECK-SAME:  filter_permutation = array<i64: 0, 2, 1, 3>
// OFF-LABEL:   func.func @filter_pruned
// OFF:         tensor<8xf32>, tensor<3xi64>, tensor<2xi64>
// OFF-NOT:     filter_permutation
func.func @filter_pruned(%in: tensor<1x2x1x1x8xf32>, %init: tensor<1x4x1x1x8xf32>) -> tensor<1x4x1x1x8xf32> {
  // values per group: position, then channel, then filter (group 0: filters 0-1, group 1: filters 2-3)
  %values = arith.constant dense<[1.0, 0.0, 2.0, 0.0, 3.0, 0.0, 4.0, 0.0]> : tensor<8xf32>
  %offsets = arith.constant dense<[0, 1, 2]> : tensor<3xi64>
  %positions = arith.constant dense<[0, 0]> : tensor<2xi64>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 2, 2>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x2x1x1x8xf32>, tensor<8xf32>, tensor<3xi64>, tensor<2xi64>, tensor<1x4x1x1x8xf32>) -> tensor<1x4x1x1x8xf32>
  return %0 : tensor<1x4x1x1x8xf32>
}

// -----

// One pattern per filter block (KGS-pruned at this group shape): regrouping cannot gain, the
// order stays; only the tables narrow (positions < 128 fit i8, offsets up to 300 need i16).
// CHECK-LABEL: func.func @kgs_pruned_keeps_order
// CHECK:       "sparse3d.kgs_conv3d"
// CHECK-NOT:   filter_permutation
// CHECK-SAME:  tensor<4xi16>, tensor<300xi8>
func.func @kgs_pruned_keeps_order(%in: tensor<1x3x5x5x5xf32>, %init: tensor<1x1x1x1x1xf32>) -> tensor<1x1x1x1x1xf32> {
  %values = arith.constant dense<1.0> : tensor<300xf32>
  %offsets = arith.constant dense<[0, 100, 200, 300]> : tensor<4xi64>
  %positions = arith.constant dense<[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99]> : tensor<300xi64>
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 1, 1>, kernel_size = array<i64: 5, 5, 5>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x3x5x5x5xf32>, tensor<300xf32>, tensor<4xi64>, tensor<300xi64>, tensor<1x1x1x1x1xf32>) -> tensor<1x1x1x1x1xf32>
  return %0 : tensor<1x1x1x1x1xf32>
}

// -----

// Tables that are not constants are left as they are.
// CHECK-LABEL: func.func @tables_as_arguments
// CHECK:       "sparse3d.kgs_conv3d"(%arg0, %arg1, %arg2, %arg3, %arg4)
// CHECK-NOT:   filter_permutation
// CHECK-SAME:  tensor<3xi64>, tensor<2xi64>
func.func @tables_as_arguments(%in: tensor<1x2x1x1x8xf32>, %values: tensor<8xf32>, %offsets: tensor<3xi64>, %positions: tensor<2xi64>, %init: tensor<1x4x1x1x8xf32>) -> tensor<1x4x1x1x8xf32> {
  %0 = "sparse3d.kgs_conv3d"(%in, %values, %offsets, %positions, %init) {group_shape = array<i64: 2, 2>, kernel_size = array<i64: 1, 1, 1>, strides = array<i64: 1, 1, 1>, padding = array<i64: 0, 0, 0, 0, 0, 0>, dilations = array<i64: 1, 1, 1>} : (tensor<1x2x1x1x8xf32>, tensor<8xf32>, tensor<3xi64>, tensor<2xi64>, tensor<1x4x1x1x8xf32>) -> tensor<1x4x1x1x8xf32>
  return %0 : tensor<1x4x1x1x8xf32>
}
