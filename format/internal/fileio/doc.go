// Package fileio holds the file plumbing shared by the format readers and
// writers: read-only memory maps of whole files (with a plain read where mmap
// is unavailable) and atomic writes (a temporary file in the same folder,
// synced, then renamed over the destination).
package fileio
