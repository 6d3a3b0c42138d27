module github.com/loftml/loft/internal/asmgen

go 1.26

require github.com/mmcloughlin/avo v0.5.0 // indirect
