import { useState } from "react";
import { describeError } from "@/lib/api";
import { useUploadFile } from "../api";

/** Upload files (raw bytes through PUT …/files/{path}) into a folder of the vault. */
export function Upload({ vaultId }: { vaultId: string }) {
  const upload = useUploadFile(vaultId);
  const [folder, setFolder] = useState("");
  const [done, setDone] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);

  const send = async (files: FileList | null) => {
    if (!files?.length) return;
    setError(null);
    const stored: string[] = [];
    const prefix = folder.trim().replace(/^\/+|\/+$/g, "");
    for (const file of Array.from(files)) {
      try {
        const result = await upload.mutateAsync({ path: prefix ? `${prefix}/${file.name}` : file.name, file });
        stored.push(result.path);
      } catch (e) {
        setError(`${file.name}: ${describeError(e)}`);
        break;
      }
    }
    setDone(stored);
  };

  return (
    <section className="card" aria-labelledby="upload-title">
      <h2 id="upload-title">Upload</h2>
      <div className="inline-form">
        <label>
          Into folder
          <input value={folder} onChange={(e) => setFolder(e.target.value)} placeholder="(the vault's top)" />
        </label>
        <label className="button-like">
          {upload.isPending ? "Uploading…" : "Choose files"}
          <input
            className="sr-only"
            type="file"
            multiple
            aria-label="Files to upload"
            disabled={upload.isPending}
            onChange={(e) => {
              void send(e.target.files);
              e.target.value = "";
            }}
          />
        </label>
      </div>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
      {done.length > 0 && (
        <p role="status" className="small">
          Stored {done.join(", ")}. Scan the vault to add {done.length === 1 ? "it" : "them"} to the inventory.
        </p>
      )}
    </section>
  );
}
