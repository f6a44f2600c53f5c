"""What a user may see: the one place that turns a user into a set of grids, communities and a
department, and the helpers every scoped query goes through.

Keeping this in one function means a new endpoint cannot invent its own rule: it asks for the
caller's ``Scope`` and filters with ``in_scope``/``get_scoped``. Out-of-scope rows answer 404, not
403, so their existence is not leaked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peewee import Expression, Field, ModelSelect

from gridapp.errors import NotFound
from gridapp.org.models import Community, Grid, User, UserGrid


@dataclass(frozen=True)
class Scope:
    user_id: int
    role: str
    # None means "every" (admin); an empty set means "none".
    grid_ids: frozenset[int] | None
    community_ids: frozenset[int] | None
    street_id: int | None = None
    department_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def sees_grid(self, grid_id: int | None) -> bool:
        if grid_id is None:
            return False
        return self.grid_ids is None or grid_id in self.grid_ids

    def sees_community(self, community_id: int | None) -> bool:
        if community_id is None:
            return False
        return self.community_ids is None or community_id in self.community_ids

    def grid_condition(self, field: Field) -> Expression | bool:
        """A WHERE condition restricting ``field`` (a grid id column) to this scope."""
        if self.grid_ids is None:
            return True
        if not self.grid_ids:
            return False
        return field.in_(sorted(self.grid_ids))

    def community_condition(self, field: Field) -> Expression | bool:
        if self.community_ids is None:
            return True
        if not self.community_ids:
            return False
        return field.in_(sorted(self.community_ids))


def scope_for(user: User) -> Scope:
    """Compute the scope from the organisation tree (a few indexed lookups)."""
    role = user.role
    if role == "admin":
        return Scope(user.id, role, None, None)
    if role == "grid_worker":
        preloaded = getattr(user, "_grid_rows", None)  # read with the session (one query)
        rows = (
            [(g[0], g[2]) for g in preloaded]
            if preloaded is not None
            else list(
                Grid.select(Grid.id, Grid.community)
                .join(UserGrid)
                .where(UserGrid.user == user.id)
                .tuples()
            )
        )
        return Scope(
            user.id,
            role,
            frozenset(r[0] for r in rows),
            frozenset(r[1] for r in rows),
        )
    if role == "supervisor":
        if user.community_id:
            communities = frozenset([user.community_id])
        elif user.street_id:
            communities = frozenset(
                c
                for (c,) in Community.select(Community.id)
                .where(Community.street == user.street_id)
                .tuples()
            )
        else:
            communities = frozenset()
        grids = (
            frozenset(
                g
                for (g,) in Grid.select(Grid.id)
                .where(Grid.community.in_(list(communities)))
                .tuples()
            )
            if communities
            else frozenset()
        )
        return Scope(user.id, role, grids, communities, street_id=user.street_id)
    if role == "department":
        return Scope(user.id, role, frozenset(), frozenset(), department_id=user.department_id)
    return Scope(user.id, role, frozenset(), frozenset())


def in_scope(query: ModelSelect, grid_field: Field, scope: Scope) -> ModelSelect:
    """Restrict ``query`` to rows whose ``grid_field`` lies in ``scope``."""
    cond = scope.grid_condition(grid_field)
    if cond is True:
        return query
    if cond is False:
        return query.where(False)
    return query.where(cond)


def get_scoped(model: Any, pk: Any, scope: Scope, grid_field: Field | None = None) -> Any:
    """Fetch one row by primary key within scope, or raise 404 (never 403: no existence leak)."""
    field = grid_field if grid_field is not None else model.grid
    row = in_scope(model.select().where(model._meta.primary_key == pk), field, scope).first()
    if row is None:
        raise NotFound()
    return row
