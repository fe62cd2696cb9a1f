// Command etcd: the upstream etcd server entry point (etcd's own server/main.go is just this).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
