INSERT IGNORE INTO courses (id, display_name, org) VALUES
  ('course-v1:edX+DemoX+Demo_Course', 'Demonstration Course', 'edX'),
  ('course-v1:OpenedX+DevOps+2026', 'Running Open edX Locally', 'OpenedX');
INSERT IGNORE INTO enrollments (course_id, username) VALUES
  ('course-v1:edX+DemoX+Demo_Course', 'staff'),
  ('course-v1:edX+DemoX+Demo_Course', 'learner'),
  ('course-v1:OpenedX+DevOps+2026', 'learner');
