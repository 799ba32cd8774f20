-- Lookups of users by email ignore ASCII case, as `GET /api/v2/users-by-email` does.
CREATE INDEX users_email_lower ON users (lower(email));
