"""The Vulkan back end: SPIR-V modules plus a manifest an app can load (``compile_vulkan``), and a runner."""
