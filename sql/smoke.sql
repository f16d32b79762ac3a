-- The extension installs at the version the control file names as default.
SELECT e.extname, e.extversion = a.default_version AS at_default_version
  FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
 WHERE e.extname = 'workorder';
