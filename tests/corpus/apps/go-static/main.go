package main

import (
	"fmt"
	"os"
	"runtime"
)

const banner = "static go binary"

func main() {
	fmt.Printf("%s on %s, uid %d\n", banner, runtime.GOOS, os.Getuid())
}
