package main

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// firewall is cloudfile_firewall: one JSON file, ROOT/NAME.json.
type firewall struct{ root string }

type firewallModel struct {
	ID          types.String `tfsdk:"id"`
	Name        types.String `tfsdk:"name"`
	Description types.String `tfsdk:"description"`
	Ports       types.List   `tfsdk:"ports"`
	Tags        types.Map    `tfsdk:"tags"`
}

// record is the object as the "cloud" stores it.
type record struct {
	Name        string            `json:"name"`
	Description *string           `json:"description,omitempty"`
	Ports       []int64           `json:"ports,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
}

func (f *firewall) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_firewall"
}

func (f *firewall) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{Attributes: map[string]schema.Attribute{
		"id": schema.StringAttribute{Computed: true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
		"name": schema.StringAttribute{Required: true,
			PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()}},
		"description": schema.StringAttribute{Optional: true},
		"ports":       schema.ListAttribute{Optional: true, ElementType: types.Int64Type},
		"tags":        schema.MapAttribute{Optional: true, ElementType: types.StringType},
	}}
}

func (f *firewall) Configure(_ context.Context, req resource.ConfigureRequest, _ *resource.ConfigureResponse) {
	if root, ok := req.ProviderData.(string); ok {
		f.root = root
	}
}

func (f *firewall) file(name string) string {
	return filepath.Join(f.root, filepath.Base(name)+".json")
}

func (f *firewall) write(ctx context.Context, m *firewallModel) error {
	r := record{Name: m.Name.ValueString(), Description: m.Description.ValueStringPointer()}
	if d := m.Ports.ElementsAs(ctx, &r.Ports, false); d.HasError() {
		return errors.New("ports: not a list of numbers")
	}
	if d := m.Tags.ElementsAs(ctx, &r.Tags, false); d.HasError() {
		return errors.New("tags: not a map of strings")
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.root, 0o755); err != nil {
		return err
	}
	m.ID = m.Name
	return os.WriteFile(f.file(r.Name), append(b, '\n'), 0o644)
}

func (f *firewall) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var m firewallModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := f.write(ctx, &m); err != nil {
		resp.Diagnostics.AddError("create firewall", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// Read refreshes every attribute from the file, in place; a missing file
// is an object deleted outside Terraform.
func (f *firewall) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var m firewallModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	b, err := os.ReadFile(f.file(m.ID.ValueString()))
	if errors.Is(err, fs.ErrNotExist) {
		resp.State.RemoveResource(ctx)
		return
	}
	var r record
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	if err != nil {
		resp.Diagnostics.AddError("read firewall", err.Error())
		return
	}
	m.Name = types.StringValue(r.Name)
	m.Description = types.StringPointerValue(r.Description)
	ports, d := types.ListValueFrom(ctx, types.Int64Type, r.Ports)
	resp.Diagnostics.Append(d...)
	tags, d := types.MapValueFrom(ctx, types.StringType, r.Tags)
	resp.Diagnostics.Append(d...)
	if r.Ports == nil {
		ports = types.ListNull(types.Int64Type)
	}
	if r.Tags == nil {
		tags = types.MapNull(types.StringType)
	}
	m.Ports, m.Tags = ports, tags
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (f *firewall) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var m firewallModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := f.write(ctx, &m); err != nil {
		resp.Diagnostics.AddError("update firewall", err.Error())
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

func (f *firewall) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var m firewallModel
	resp.Diagnostics.Append(req.State.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if err := os.Remove(f.file(m.ID.ValueString())); err != nil && !errors.Is(err, fs.ErrNotExist) {
		resp.Diagnostics.AddError("delete firewall", err.Error())
	}
}

func (f *firewall) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resource.ImportStatePassthroughID(ctx, path.Root("id"), req, resp)
}
