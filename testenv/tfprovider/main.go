// Command terraform-provider-cloudfile is a Terraform provider for driftd's
// tests: a stand-in for a cloud API whose objects (firewalls) live as JSON
// files in a directory. Unlike hashicorp/local, whose resources vanish from
// state when their file changes, it refreshes attributes in place, as cloud
// providers do, so that tests can change an object "in the console" (edit
// its file) and see Terraform report exactly that attribute, and see
// lifecycle ignore_changes set it aside.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
)

func main() {
	err := providerserver.Serve(context.Background(), newProvider, providerserver.ServeOpts{
		Address: "registry.terraform.io/driftd/cloudfile",
	})
	if err != nil {
		log.Fatal(err)
	}
}
