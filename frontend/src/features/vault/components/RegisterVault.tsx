import { useState, type FormEvent } from "react";
import { describeError } from "@/lib/api";
import { useCreateVault, type Vault, type VaultCreate } from "../api";

/** Register a local folder or an S3/R2/MinIO bucket; credentials go in and never come back. */
export function RegisterVault({ onCreated }: { onCreated?: (vault: Vault) => void }) {
  const create = useCreateVault();
  const [kind, setKind] = useState<"local" | "s3">("local");
  const [form, setForm] = useState({
    name: "",
    root: "",
    bucket: "",
    prefix: "",
    endpoint_url: "",
    region: "",
    access_key_id: "",
    secret_access_key: "",
  });
  const set = (key: keyof typeof form) => (e: { target: { value: string } }) =>
    setForm({ ...form, [key]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const body: VaultCreate =
      kind === "local"
        ? { name: form.name, kind, root: form.root || null }
        : {
            name: form.name,
            kind,
            bucket: form.bucket,
            prefix: form.prefix || null,
            endpoint_url: form.endpoint_url || null,
            region: form.region || null,
            credentials:
              form.access_key_id || form.secret_access_key
                ? { access_key_id: form.access_key_id, secret_access_key: form.secret_access_key }
                : null,
          };
    try {
      const vault = await create.mutateAsync(body);
      setForm({ ...form, name: "", root: "", access_key_id: "", secret_access_key: "" });
      onCreated?.(vault);
    } catch {
      /* shown below */
    }
  };

  return (
    <form className="card register-vault" onSubmit={submit} aria-label="Register a vault">
      <h2>Register a vault</h2>
      <fieldset className="segmented">
        <legend>Storage</legend>
        <label>
          <input type="radio" name="vault-kind" checked={kind === "local"} onChange={() => setKind("local")} /> Local
          folder
        </label>
        <label>
          <input type="radio" name="vault-kind" checked={kind === "s3"} onChange={() => setKind("s3")} /> S3 bucket
        </label>
      </fieldset>
      <div className="filters">
        <label>
          Vault name
          <input required maxLength={200} value={form.name} onChange={set("name")} />
        </label>
        {kind === "local" ? (
          <label>
            Folder
            <input
              value={form.root}
              onChange={set("root")}
              placeholder="research (inside the allowed roots)"
              aria-describedby="root-help"
            />
          </label>
        ) : (
          <>
            <label>
              Bucket
              <input required value={form.bucket} onChange={set("bucket")} pattern="[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]" />
            </label>
            <label>
              Prefix
              <input value={form.prefix} onChange={set("prefix")} placeholder="research/" />
            </label>
            <label>
              Endpoint URL
              <input type="url" value={form.endpoint_url} onChange={set("endpoint_url")} placeholder="empty: AWS S3" />
            </label>
            <label>
              Region
              <input value={form.region} onChange={set("region")} placeholder="us-east-1" />
            </label>
            <label>
              Access key id
              <input value={form.access_key_id} onChange={set("access_key_id")} autoComplete="off" />
            </label>
            <label>
              Secret access key
              <input
                type="password"
                value={form.secret_access_key}
                onChange={set("secret_access_key")}
                autoComplete="new-password"
                aria-describedby="root-help"
              />
            </label>
          </>
        )}
      </div>
      <p id="root-help" className="muted small">
        {kind === "local"
          ? "A folder inside the roots the administrator allows (a relative name goes under the first); it is made if missing."
          : "Credentials are stored encrypted and are never shown again, not even to you."}
      </p>
      {create.error && (
        <p className="form-error" role="alert">
          {describeError(create.error)}
        </p>
      )}
      <button type="submit" className="primary" disabled={create.isPending}>
        {create.isPending ? "Registering…" : "Register vault"}
      </button>
    </form>
  );
}
