// Package safetensors reads and writes Hugging Face safetensors files: a
// single file or a sharded folder (model.safetensors.index.json with its
// weight_map). It knows bytes, dtypes, shapes and metadata, never models.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}) and the data area, which offsets index.
// Every offset and size is checked against the file before it is used;
// files are memory-mapped, so opening a large checkpoint is cheap.
package safetensors
