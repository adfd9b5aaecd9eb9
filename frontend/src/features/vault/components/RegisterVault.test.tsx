import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { RegisterVault } from "./RegisterVault";

const mutateAsync = vi.fn(async (body: { name: string }) => ({ id: "v1", name: body.name }));
vi.mock("../api", () => ({
  useCreateVault: () => ({ mutateAsync, isPending: false, error: null }),
}));

describe("registering a vault", () => {
  it("sends a local folder", async () => {
    const onCreated = vi.fn();
    render(<RegisterVault onCreated={onCreated} />);
    await userEvent.type(screen.getByLabelText("Vault name"), "Research");
    await userEvent.type(screen.getByRole("textbox", { name: "Folder" }), "research");
    await userEvent.click(screen.getByRole("button", { name: "Register vault" }));
    expect(mutateAsync).toHaveBeenLastCalledWith({ name: "Research", kind: "local", root: "research" });
    expect(onCreated).toHaveBeenCalledWith({ id: "v1", name: "Research" });
  });

  it("sends an S3 bucket's credentials once, from a masked field, and forgets them", async () => {
    render(<RegisterVault />);
    await userEvent.click(screen.getByRole("radio", { name: /S3 bucket/ }));
    await userEvent.type(screen.getByLabelText("Vault name"), "Bucket");
    await userEvent.type(screen.getByLabelText("Bucket"), "research-files");
    await userEvent.type(screen.getByLabelText("Region"), "eu-west-1");
    await userEvent.type(screen.getByLabelText("Access key id"), "AKIAEXAMPLE");
    const secret = screen.getByLabelText("Secret access key");
    expect(secret).toHaveAttribute("type", "password");
    await userEvent.type(secret, "s3cr3t");
    await userEvent.click(screen.getByRole("button", { name: "Register vault" }));
    expect(mutateAsync).toHaveBeenLastCalledWith({
      name: "Bucket",
      kind: "s3",
      bucket: "research-files",
      prefix: null,
      endpoint_url: null,
      region: "eu-west-1",
      credentials: { access_key_id: "AKIAEXAMPLE", secret_access_key: "s3cr3t" },
    });
    expect(screen.getByLabelText("Secret access key")).toHaveValue("");
    expect(screen.getByLabelText("Access key id")).toHaveValue("");
    expect(screen.getByText(/never shown again/)).toBeInTheDocument();
  });
});
