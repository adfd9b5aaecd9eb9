import { describeError } from "@/lib/api";
import { downloadFile } from "../api";

/** Download one vault file: fetched with the session's token (a plain link cannot carry it) and
 *  handed to the browser; `onError` hears the reason it failed, or null once it worked. */
export function DownloadButton({
  vaultId,
  path,
  onError,
}: {
  vaultId: string;
  path: string;
  onError: (message: string | null) => void;
}) {
  return (
    <button
      type="button"
      className="small"
      aria-label={`Download ${path}`}
      onClick={() =>
        downloadFile(vaultId, path).then(
          () => onError(null),
          (e: unknown) => onError(describeError(e)),
        )
      }
    >
      Download
    </button>
  );
}
