// The size-class algorithm of Go 1.14 mksizeclasses.go.
