// Put first on the include path of every pure library (aw_pure_inc in the top
// meson.build): including libuv there is a build error, not a review comment.
// Pure modules take `now` and return decisions and deadlines; the loop is the
// shell's (docs/architecture.md, "Layers").
#error "a pure library may not include uv.h: move the loop code to its shell (docs/architecture.md)"
