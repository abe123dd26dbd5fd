import type { FetchBaseQueryError } from '@reduxjs/toolkit/query';
import type { SerializedError } from '@reduxjs/toolkit';
import { apiError, describeError } from '../errors.ts';

export function ErrorMessage({ error }: { error: FetchBaseQueryError | SerializedError | undefined }) {
  const failure = apiError(error);
  if (!failure) return null;
  return (
    <p role="alert" className="error">
      {describeError(failure)}
    </p>
  );
}
