// PLACEHOLDER (packaging helper replaces it): checks system parts npm test needs.
