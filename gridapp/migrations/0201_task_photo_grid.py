"""Photos attached to a finished task before this fix kept no grid, so only their uploader could
open them; give each the grid of its task so the supervisor verifying the task sees them too."""


def up(migrator, db):
    db.execute_sql(
        "UPDATE photo SET grid_id = (SELECT task.grid_id FROM task"
        " WHERE CAST(task.id AS VARCHAR(64)) = photo.owner_id)"
        " WHERE photo.owner_type = 'task' AND photo.grid_id IS NULL"
    )
