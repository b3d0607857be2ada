# The libfuse 3 addon (session.c: the libfuse side; addon.c: the Node-API side). Built by
# native/build.mjs at `npm ci`, which checks first that pkg-config knows fuse3 and never
# fails the install.
{
  "targets": [
    {
      "target_name": "sluice_fuse3",
      "sources": ["session.c", "addon.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "<!@(pkg-config --cflags fuse3)"],
      "libraries": ["<!@(pkg-config --libs fuse3)", "-lpthread"]
    }
  ]
}
