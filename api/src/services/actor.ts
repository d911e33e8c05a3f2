/**
 * Who does something, and from where (for the audit log). Its own module below the
 * services, so services that take an actor do not import the module that assembles them.
 */
export interface Actor {
  userId: string;
  ip: string | null;
}
