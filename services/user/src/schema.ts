import type { ColumnType, Generated } from '@scaleshop/platform';
import type { Role } from '@scaleshop/platform';

/** The user database as kysely sees it; kept in step with migrations.ts. */
export interface UserDatabase {
  users: {
    id: Generated<string>;
    /** Stored trimmed and lowercased, so the unique constraint holds regardless of how it was typed. */
    email: string;
    name: string;
    password_hash: string;
    role: Generated<Role>;
    created_at: ColumnType<Date, never, never>;
  };
}
