# The demo's "cloud" is a directory: each local_file stands for a piece of
# infrastructure that someone could change by hand.
terraform {
  backend "local" {
    path = "@STATE@/network.tfstate"
  }
  required_providers {
    local = { source = "hashicorp/local" }
  }
}

variable "allowed_cidrs" {
  type    = list(string)
  default = ["10.0.0.0/16", "192.168.10.0/24"]
}

resource "local_file" "security_group" {
  filename = "@REALITY@/security-group-web.json"
  content = jsonencode({
    name    = "web"
    ingress = [for c in var.allowed_cidrs : { port = 443, cidr = c }]
  })
}

resource "local_file" "route_table" {
  filename = "@REALITY@/route-table.conf"
  content  = "default via 10.0.0.1\n10.1.0.0/16 via 10.0.0.2\n"
}
