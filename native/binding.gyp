# The libfuse 3 addon (sluice_fuse3.c). Built by native/build.mjs at `npm ci`, which checks
# first that pkg-config knows fuse3 and never fails the install.
{
  "targets": [
    {
      "target_name": "sluice_fuse3",
      "sources": ["sluice_fuse3.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)", "-lpthread"]
    }
  ]
}
