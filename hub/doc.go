// Package hub finds model files: a local folder, a local .gguf file, or a
// Hugging Face Hub repository id ("org/name", optionally "org/name@revision")
// downloaded into the standard Hugging Face cache so that Python's tools
// (transformers, huggingface_hub) and loft share one copy. One .gguf file of
// a repo is named as "org/name:QUANT" (the file whose name contains the tag,
// as llama.cpp's -hf and ollama's hf.co/ references) or
// "org/name/file.gguf"; only that file is downloaded. Options.TokenizerOnly
// downloads the tokenizer files of a repo and no weights.
//
// Cache layout (the Hub's documented local-cache format):
//
//	<cache>/models--<org>--<name>/
//	    blobs/<etag>                  file contents, named by the Hub's blob id
//	    blobs/<etag>.incomplete       a download in progress, resumed with Range
//	    refs/<revision>               the commit hash a branch or tag points to, no newline
//	    snapshots/<commit>/<file>     relative symlink to ../../blobs/<etag>
//	    .no_exist/<commit>/<file>     empty marker: the file is absent at that commit
//	<cache>/.locks/models--<org>--<name>/<etag>.lock
//	                                  flock(2) held while a blob is written, as Python does
//
// <cache> is $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub,
// else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
//
// The blob id is the response's X-Linked-Etag (LFS files, a sha256 of the
// content, verified after download) or ETag (regular git files, a git blob
// sha1), without quotes or a W/ prefix.
//
// The package imports nothing of the project.
package hub
