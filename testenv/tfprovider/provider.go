package main

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

type cloudProvider struct{}

func newProvider() provider.Provider { return cloudProvider{} }

type providerModel struct {
	Root types.String `tfsdk:"root"`
}

func (cloudProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "cloudfile"
	resp.Version = "0.1.0"
}

func (cloudProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"root": schema.StringAttribute{Required: true, Description: "the directory that holds the objects"},
	}}
}

func (cloudProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.ResourceData = m.Root.ValueString()
}

func (cloudProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{func() resource.Resource { return &firewall{} }}
}

func (cloudProvider) DataSources(context.Context) []func() datasource.DataSource { return nil }
