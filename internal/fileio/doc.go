// Package fileio holds the file plumbing shared by the format readers and
// writers: read-only memory maps of whole files (with a plain read where mmap
// is unavailable) and atomic writes (a temporary file in the same folder,
// synced, then renamed over the destination).
//
// As with any memory map, a file truncated by another process while mapped
// makes reads of the lost pages fault (SIGBUS); model files are not
// expected to change under a reader, and writers here replace files by
// rename, which leaves an existing mapping intact.
package fileio
