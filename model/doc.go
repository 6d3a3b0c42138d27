// Package model loads pretrained models (Hugging Face folders and GGUF
// files) with an explicit switch on the architecture, and defines the
// interfaces that generation and training drive. Architectures live in
// model/<arch> and do not import this package.
package model
