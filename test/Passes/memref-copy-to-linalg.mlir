// RUN: rt3d-opt %s --memref-copy-to-linalg | filecheck %s

// CHECK-LABEL: func.func @unranked_stays
// CHECK:       memref.copy
func.func @unranked_stays(%a: memref<*xf32>, %b: memref<*xf32>) {
  memref.copy %a, %b : memref<*xf32> to memref<*xf32>
  return
}

// CHECK-LABEL: func.func @strided_copy
// CHECK-NOT:   memref.copy
// CHECK:       %[[VIEW:.*]] = memref.subview
// CHECK:       linalg.copy {{.*}}ins(%arg0 : memref<4x4xf32>) outs(%[[VIEW]] : memref<4x4xf32, strided<[6, 1], offset: 7>>)
func.func @strided_copy(%a: memref<4x4xf32>, %b: memref<6x6xf32>) {
  %view = memref.subview %b[1, 1] [4, 4] [1, 1] : memref<6x6xf32> to memref<4x4xf32, strided<[6, 1], offset: 7>>
  memref.copy %a, %view : memref<4x4xf32> to memref<4x4xf32, strided<[6, 1], offset: 7>>
  return
}
